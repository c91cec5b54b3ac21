/// Elementwise kernels and reductions over contiguous buffers. Each splits large inputs over the
/// cores (`Parallel.range`) and leaves the inner loop simple enough for the compiler to vectorise.
/// Reductions accumulate in Double per chunk so results do not depend much on the split.
public enum Kernels {
    /// Minimum elements per parallel chunk for streaming kernels.
    public static let grain = 1 << 16

    /// y[i] += a · x[i]
    @inlinable
    public static func axpy<T: TensorScalar>(_ n: Int, _ a: T, _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>) {
        Parallel.range(n, grain: grain) { r in
            for i in r { y[i] += a * x[i] }
        }
    }

    /// z[i] = x[i] + y[i]  (z may alias x or y)
    @inlinable
    public static func add<T: TensorScalar>(_ n: Int, _ x: UnsafePointer<T>, _ y: UnsafePointer<T>, _ z: UnsafeMutablePointer<T>) {
        Parallel.range(n, grain: grain) { r in
            for i in r { z[i] = x[i] + y[i] }
        }
    }

    /// x[i] *= a
    @inlinable
    public static func scale<T: TensorScalar>(_ n: Int, _ a: T, _ x: UnsafeMutablePointer<T>) {
        Parallel.range(n, grain: grain) { r in
            for i in r { x[i] *= a }
        }
    }

    /// Σ x[i]
    @inlinable
    public static func sum<T: TensorScalar>(_ n: Int, _ x: UnsafePointer<T>) -> Double {
        reduce(n, x) { p, r in var s: T = 0; for i in r { s += p[i] }; return Double(s) }
    }

    /// Σ x[i]·y[i]
    @inlinable
    public static func dot<T: TensorScalar>(_ n: Int, _ x: UnsafePointer<T>, _ y: UnsafePointer<T>) -> Double {
        return reduce(n, x) { p, r in var s: T = 0; for i in r { s += p[i] * y[i] }; return Double(s) }
    }

    /// Σ x[i]², accumulated in Double: in Float the squares of finite values past ~1.8e19 overflow
    /// (an inf gradient norm from finite gradients skipped clipping and broke the metrics line).
    @inlinable
    public static func sumSquares<T: TensorScalar>(_ n: Int, _ x: UnsafePointer<T>) -> Double {
        reduce(n, x) { p, r in var s = 0.0; for i in r { let v = Double(p[i]); s += v * v }; return s }
    }

    /// max |x[i]| (NaN if any element is NaN).
    @inlinable
    public static func maxAbs<T: TensorScalar>(_ n: Int, _ x: UnsafePointer<T>) -> Double {
        var m: Double = 0
        for i in 0..<n {
            let a = Double(abs(x[i]))
            if a.isNaN { return .nan }
            if a > m { m = a }
        }
        return m
    }

    /// Index of the first NaN or ±Inf, or nil when all are finite.
    @inlinable
    public static func firstNonFinite<T: TensorScalar>(_ n: Int, _ x: UnsafePointer<T>) -> Int? {
        // Sum in chunks first (cheap, vectorises): a non-finite element makes its chunk's sum
        // non-finite; only then search the chunk. (Cancelling infinities also give NaN.)
        let chunk = 4096
        var start = 0
        while start < n {
            let end = min(n, start + chunk)
            var s: T = 0
            for i in start..<end { s += x[i] * 0 }
            if !s.isFinite { for i in start..<end where !x[i].isFinite { return i } }
            start = end
        }
        return nil
    }

    /// Sums per-chunk results of `body` computed in parallel (chunk sums are added in order).
    @inlinable
    public static func reduce<T: TensorScalar>(_ n: Int, _ x: UnsafePointer<T>,
                                               _ body: @escaping (UnsafePointer<T>, Range<Int>) -> Double) -> Double {
        let blocks = max(1, min(64, n / 8192))
        var partial = [Double](repeating: 0, count: blocks)
        partial.withUnsafeMutableBufferPointer { pb in
            let ps = pb.baseAddress!
            Parallel.items(blocks) { b, _ in
                let lo = n * b / blocks, hi = n * (b + 1) / blocks
                ps[b] = body(x, lo..<hi)
            }
        }
        return partial.reduce(0, +)
    }

    /// The sum of 16 lanes as a tree of halves (three vector adds and one scalar add).
    /// `SIMD16.sum()` is not inlined here (a call per sum, 6 % of `ConvKernel.weightProducts`'
    /// samples in a `bench vae` profile, which takes 24 sums per tile); with this, Conv1d 64→64
    /// k7's backward went from 177–182 to 187 GFLOP/s (`bench layers`, alternating).
    @inlinable @inline(__always)
    public static func lanesSum<T: TensorScalar>(_ v: SIMD16<T>) -> T {
        let a = v.lowHalf + v.highHalf, b = a.lowHalf + a.highHalf, c = b.lowHalf + b.highHalf
        return c[0] + c[1]
    }

    /// Σ x[i] of a short row, vectorised (16 lanes; the compiler will not reorder a scalar float sum).
    @inlinable
    public static func rowSum<T: TensorScalar>(_ x: UnsafePointer<T>, _ n: Int) -> T {
        var acc = SIMD16<T>(repeating: 0)
        var i = 0
        let raw = UnsafeRawPointer(x)
        while i + 16 <= n {
            acc += raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.stride, as: SIMD16<T>.self)
            i += 16
        }
        var s = lanesSum(acc)
        while i < n { s += x[i]; i += 1 }
        return s
    }

    /// Σ x[i]·y[i] of a short row, vectorised like `rowSum`.
    @inlinable
    public static func rowDot<T: TensorScalar>(_ x: UnsafePointer<T>, _ y: UnsafePointer<T>, _ n: Int) -> T {
        var acc = SIMD16<T>(repeating: 0)
        var i = 0
        let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y), w = MemoryLayout<T>.stride
        while i + 16 <= n {
            acc += rx.loadUnaligned(fromByteOffset: i * w, as: SIMD16<T>.self)
                * ry.loadUnaligned(fromByteOffset: i * w, as: SIMD16<T>.self)
            i += 16
        }
        var s = lanesSum(acc)
        while i < n { s += x[i] * y[i]; i += 1 }
        return s
    }

    /// max x[i] of a short row (n ≥ 1). Eight independent running maxima (`a > m ? a : m`
    /// compiles to one `maxss`); SIMD `replace(with:where:)` was several times slower here.
    @inlinable
    public static func rowMax<T: TensorScalar>(_ x: UnsafePointer<T>, _ n: Int) -> T {
        var m0 = x[0], m1 = x[0], m2 = x[0], m3 = x[0], m4 = x[0], m5 = x[0], m6 = x[0], m7 = x[0]
        var i = 0
        while i + 8 <= n {
            m0 = x[i] > m0 ? x[i] : m0; m1 = x[i + 1] > m1 ? x[i + 1] : m1
            m2 = x[i + 2] > m2 ? x[i + 2] : m2; m3 = x[i + 3] > m3 ? x[i + 3] : m3
            m4 = x[i + 4] > m4 ? x[i + 4] : m4; m5 = x[i + 5] > m5 ? x[i + 5] : m5
            m6 = x[i + 6] > m6 ? x[i + 6] : m6; m7 = x[i + 7] > m7 ? x[i + 7] : m7
            i += 8
        }
        while i < n { m0 = x[i] > m0 ? x[i] : m0; i += 1 }
        m0 = m1 > m0 ? m1 : m0; m2 = m3 > m2 ? m3 : m2; m4 = m5 > m4 ? m5 : m4; m6 = m7 > m6 ? m7 : m6
        m0 = m2 > m0 ? m2 : m0; m4 = m6 > m4 ? m6 : m4
        return m4 > m0 ? m4 : m0
    }
}
