import Foundation

/// Large tensor buffers, freed, kept for the next tensor of the same size class.
///
/// glibc hands blocks above its mmap threshold (32 MiB at most) back to the kernel when they are
/// freed, and every page of the next such block is then faulted in and zeroed again — on this
/// machine a 10 s one-shot VAE decode spent most of its time on that (docs/design.md §8). Layers in
/// inference mode free each activation once the next layer has read it; with this pool the next
/// activation of the same size takes the same memory. Buffers of at least `minimumBytes` are
/// rounded up to 64 KiB and 64-byte aligned; the pool holds at most `TIMBRE_POOL_MB` MiB
/// (default 1024; 0 turns it off).
public enum StoragePool {
    static let minimumBytes = 1 << 20
    static let granule = 1 << 16
    nonisolated(unsafe) static var free: [Int: [UnsafeMutableRawPointer]] = [:]
    nonisolated(unsafe) static var heldBytes = 0
    static let capBytes: Int = {
        let mb = ProcessInfo.processInfo.environment["TIMBRE_POOL_MB"].flatMap(Int.init) ?? 1024
        return max(0, mb) << 20
    }()
    static let lock = NSLock()
    /// `TIMBRE_POISON=1`: every buffer handed out with unspecified contents (a new uninitialised
    /// tensor, a workspace reused without zeroing) is filled with NaN first, so code that reads
    /// memory it did not write shows up as NaN in the loss or gradients instead of as silently
    /// stale numbers. A debugging aid (slow), also set by tests around a training step.
    nonisolated(unsafe) public static var poison: Bool = ProcessInfo.processInfo.environment["TIMBRE_POISON"] == "1"

    /// `body` run with `poison` on (restored afterwards): everything it allocates or reuses
    /// without zeroing starts as NaN.
    public static func withPoison<R>(_ body: () throws -> R) rethrows -> R {
        let before = poison
        poison = true
        defer { poison = before }
        return try body()
    }

    /// Elements of storage to allocate for `count` elements of `stride` bytes.
    static func capacity(for count: Int, stride: Int) -> Int {
        let bytes = count * stride
        guard bytes >= minimumBytes else { return count }
        return (bytes + granule - 1) / granule * granule / stride
    }

    static func pooled(_ capacity: Int, stride: Int) -> Bool { capacity * stride >= minimumBytes }

    /// Storage for `capacity` elements (from `capacity(for:stride:)`), uninitialised.
    static func allocate<T>(_ capacity: Int, as: T.Type) -> UnsafeMutablePointer<T> {
        let bytes = capacity * MemoryLayout<T>.stride
        guard pooled(capacity, stride: MemoryLayout<T>.stride) else { return .allocate(capacity: capacity) }
        lock.lock()
        let p = free[bytes]?.popLast()
        if p != nil { heldBytes -= bytes }
        lock.unlock()
        let raw = p ?? UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        return raw.bindMemory(to: T.self, capacity: capacity)
    }

    static func release<T>(_ p: UnsafeMutablePointer<T>, capacity: Int) {
        let bytes = capacity * MemoryLayout<T>.stride
        guard pooled(capacity, stride: MemoryLayout<T>.stride) else { p.deallocate(); return }
        let raw = UnsafeMutableRawPointer(p)
        lock.lock()
        let keep = heldBytes + bytes <= capBytes
        if keep { free[bytes, default: []].append(raw); heldBytes += bytes }
        lock.unlock()
        if !keep { raw.deallocate() }
    }
}
