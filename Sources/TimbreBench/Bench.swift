import Foundation
import TimbreTensor

/// Timing helpers and the FLOP rule of docs/design.md §1: 2 FLOPs per multiply-add, counting only matrix
/// products and convolutions; backward = 2 × forward.
public enum Bench {
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Best (minimum) wall time of `repeats` runs of `body`, after `warmup` untimed runs.
    public static func time(repeats: Int = 5, warmup: Int = 1, _ body: () -> Void) -> Double {
        for _ in 0..<warmup { body() }
        var best = Double.infinity
        for _ in 0..<repeats {
            let t0 = now()
            body()
            best = min(best, now() - t0)
        }
        return best
    }

    /// `cblas_sgemm` at n×n×n with `threads` OpenBLAS threads, in GFLOP/s (best of `repeats`).
    public static func sgemmRate(n: Int = 1024, threads: Int = 2, repeats: Int = 12) -> Double {
        let a = Tensor<Float>(filled: 0.5, shape: [n, n]), b = Tensor<Float>(filled: 0.25, shape: [n, n])
        let c = Tensor<Float>(zeros: [n, n])
        let before = BLAS.threads
        BLAS.setThreads(threads)
        defer { BLAS.setThreads(before) }
        let t = time(repeats: repeats, warmup: 2) {
            Float.gemm(transA: false, transB: false, m: n, n: n, k: n, alpha: 1, a: a.data, lda: n, b: b.data, ldb: n,
                       beta: 0, c: c.data, ldc: n)
        }
        return 2 * Double(n * n * n) / t / 1e9
    }

    /// Minor page faults of this process so far (each one a fresh page the kernel had to zero).
    public static func minorFaults() -> Int {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return u.ru_minflt
    }

    /// Peak resident memory of this process so far, in MiB.
    public static func peakMemoryMiB() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_maxrss) / 1024
    }
}

/// One benchmark result row.
public struct BenchRow: Codable, Sendable {
    public var name: String
    public var forwardFLOPs: Double
    public var forwardSeconds: Double
    public var backwardSeconds: Double
    public var sgemmGFLOPs: Double
    public var forwardGFLOPs: Double { forwardFLOPs / forwardSeconds / 1e9 }
    public var backwardGFLOPs: Double { 2 * forwardFLOPs / backwardSeconds / 1e9 }
    public var totalGFLOPs: Double { 3 * forwardFLOPs / (forwardSeconds + backwardSeconds) / 1e9 }
    public var ratio: Double { totalGFLOPs / sgemmGFLOPs }

    public static func header() -> String {
        "layer".padding(toLength: 46, withPad: " ", startingAt: 0)
            + "fwd GF/s  bwd GF/s  f+b GF/s  ÷sgemm  fwd ms  bwd ms"
    }
    public var line: String {
        name.padding(toLength: 46, withPad: " ", startingAt: 0)
            + String(format: "%8.1f  %8.1f  %8.1f  %6.2f  %6.1f  %6.1f", forwardGFLOPs, backwardGFLOPs, totalGFLOPs, ratio,
                     forwardSeconds * 1e3, backwardSeconds * 1e3)
    }
}
