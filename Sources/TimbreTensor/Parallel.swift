import Foundation

/// Splits work over the machine's cores. Kernels call `Parallel.range` with a minimum amount of
/// work per chunk, so small tensors stay on the calling thread (a dispatch costs a few µs).
/// `TIMBRE_THREADS` overrides the worker count (1 gives a strictly serial run).
public enum Parallel {
    public static let workers: Int = {
        if let s = ProcessInfo.processInfo.environment["TIMBRE_THREADS"], let n = Int(s), n >= 1 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Calls `body(worker)` once for each worker index in `0..<n`, concurrently.
    @inlinable
    public static func forEachWorker(_ n: Int, _ body: (Int) -> Void) {
        if n <= 1 { body(0); return }
        withoutActuallyEscaping(body) { b in
            let box = UncheckedSendable(b)
            DispatchQueue.concurrentPerform(iterations: n) { box.value($0) }
        }
    }

    /// Splits `0..<count` into at most `workers` contiguous ranges of at least `grain` elements
    /// and runs `body` on each concurrently.
    @inlinable
    public static func range(_ count: Int, grain: Int = 1 << 15, _ body: (Range<Int>) -> Void) {
        let n = min(workers, max(1, count / max(grain, 1)))
        if n <= 1 { if count > 0 { body(0..<count) }; return }
        forEachWorker(n) { w in
            let lo = count * w / n, hi = count * (w + 1) / n
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Runs `body(item, worker)` for items `0..<count`; item i goes to worker i mod n.
    /// Each worker owns a worker index, so it can use per-worker scratch buffers.
    @inlinable
    public static func items(_ count: Int, workers maxWorkers: Int = Parallel.workers,
                             _ body: (Int, Int) -> Void) {
        let n = min(maxWorkers, count)
        if n <= 1 { for i in 0..<count { body(i, 0) }; return }
        forEachWorker(n) { w in
            var i = w
            while i < count { body(i, w); i += n }
        }
    }
}

/// Carries `forEachWorker`'s body into `DispatchQueue.concurrentPerform`'s `@Sendable` closure.
/// The bodies the helpers take are not `@Sendable`, so kernels capture their pointers directly.
@usableFromInline
struct UncheckedSendable<V>: @unchecked Sendable {
    @usableFromInline let value: V
    @inlinable init(_ value: V) { self.value = value }
}
