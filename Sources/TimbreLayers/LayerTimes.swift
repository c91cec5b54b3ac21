import Foundation

/// Wall time and FLOPs per convolution product and geometry, for `timbre bench vae --by-layer`:
/// where a training step's time goes, at what rate each product runs. Off by default (one flag
/// check per call); `LayerTimes.record { … }` turns it on around a body and returns the rows.
public enum LayerTimes {
    public struct Row: Sendable {
        public var name: String
        public var seconds = 0.0, flops = 0.0, calls = 0
    }
    nonisolated(unsafe) static var enabled = false
    nonisolated(unsafe) static var rows: [String: Row] = [:]

    /// Rows recorded while `body` ran, slowest first.
    public static func record(_ body: () -> Void) -> [Row] {
        rows = [:]
        enabled = true
        body()
        enabled = false
        return rows.values.sorted { $0.seconds > $1.seconds }
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// `body`'s wall time (and `flops`) added to the row `name()` when recording.
    @inline(__always)
    static func time<R>(_ name: @autoclosure () -> String, flops: @autoclosure () -> Double, _ body: () -> R) -> R {
        guard enabled else { return body() }
        let t0 = now()
        let r = body()
        let dt = now() - t0, key = name()
        rows[key, default: Row(name: key)].seconds += dt
        rows[key, default: Row(name: key)].flops += flops()
        rows[key, default: Row(name: key)].calls += 1
        return r
    }
}

extension ConvGeometry {
    /// 2 per multiply-add of one product over `batch` examples (docs/design.md §1).
    func flops(batch: Int) -> Double { 2 * Double(M * C * k * T * batch) }
    var label: String { "C \(C) M \(M) k \(k) s \(s) d \(d) T \(T)" }
}
