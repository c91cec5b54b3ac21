/// The register-blocked product at the heart of `ConvEngine` for `Float`: a sum of shifted
/// matrix products with the output tile held in registers across every shift and every
/// reduction row,
///
///     out[r, t] (+)= Σ_q Σ_k W_q[r, k] · X[k, t + shift_q]       r < rows, t < n,
///
/// with `W` in the tile layout `[rows/8][q][k][8]` (`ConvKernel.tileWeights`). The engine's
/// products have few rows (8…512) and a short reduction (K = C·s per shift, 1…512), and as
/// separate GEMM calls each shift re-reads and re-writes the output and re-packs its input
/// window; OpenBLAS 0.3.21 runs them at 64–92 GFLOP/s on one Zen 5 core, below its own
/// 1024³ rate (91–93). This kernel reads the window as it lies (no packing) and writes each
/// output tile once: 110–117 GFLOP/s on the same shapes (C = 32…512, k = 7, d = 1 or 9; measured
/// in isolation, one thread, the core's FMA peak being 117), 101–108 when each chunk's window is
/// first copied from a 16 MB signal. Columns past the last multiple of 32 go to BLAS. `SIMD16`
/// is one AVX-512 register here (`-target-cpu native`); on a CPU without AVX-512 it becomes two
/// AVX2 registers, the tile's accumulators then need twice the 16 registers AVX2 has and spill
/// (correct, but the speed there is unmeasured).
enum ConvKernel {
    typealias V = SIMD16<Float>

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    /// tiles[((b·nq + q)·K + k)·8 + r] = W_q[8b + r, k], from
    /// `W_q[row, k] = w[q·qStride + row·rowStride + k·kStride]`.
    static func tileWeights(_ w: UnsafePointer<Float>, rows: Int, K: Int, nq: Int, qStride: Int, rowStride: Int, kStride: Int,
                            into tiles: UnsafeMutablePointer<Float>) {
        for b in 0..<rows / 8 {
            for q in 0..<nq {
                for k in 0..<K {
                    let dst = tiles + ((b * nq + q) * K + k) * 8
                    for r in 0..<8 { dst[r] = w[q * qStride + (8 * b + r) * rowStride + k * kStride] }
                }
            }
        }
    }

    /// out[r, t] (+)= Σ_q Σ_k tiles[…] · x[k·ldx + t + shifts[q]] for r < rows (a multiple of 8),
    /// t < n32 (a multiple of 32); `accumulate` adds to what `out` holds. The sums start from
    /// `residual[r·ldr + t]` and `bias[r]` where given (a convolution's bias and a residual
    /// connection, without a pass of their own).
    static func products(_ tiles: UnsafePointer<Float>, rows: Int, K: Int, shifts: UnsafePointer<Int>, nq: Int,
                         x: UnsafePointer<Float>, ldx: Int, out: UnsafeMutablePointer<Float>, ldo: Int, n32: Int, accumulate: Bool,
                         bias: UnsafePointer<Float>? = nil, residual: UnsafePointer<Float>? = nil, ldr: Int = 0) {
        for b in 0..<rows / 8 {
            let w = tiles + b * nq * K * 8, o = out + 8 * b * ldo
            let bb = bias.map { $0 + 8 * b }, rb = residual.map { $0 + 8 * b * ldr }
            var t = 0
            while t < n32 {
                tile(w, K: K, shifts: shifts, nq: nq, x: x + t, ldx: ldx, out: o + t, ldo: ldo, accumulate: accumulate,
                     bias: bb, residual: rb.map { $0 + t }, ldr: ldr)
                t += 32
            }
        }
    }

    /// One 8 × 32 output tile, held in 16 registers of 16 lanes (`Tile`).
    @inline(__always)
    static func tile(_ w: UnsafePointer<Float>, K: Int, shifts: UnsafePointer<Int>, nq: Int, x: UnsafePointer<Float>, ldx: Int,
                     out o: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool,
                     bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, ldr: Int) {
        var acc = Tile()
        if accumulate { acc.add(o, ldo) }
        if let residual { acc.add(residual, ldr) }
        if let bias { acc.addBias(bias) }
        var wp = w
        for q in 0..<nq {
            var xp = x + shifts[q]
            for _ in 0..<K {
                acc.addProducts(load(xp), load(xp + 16), wp)
                xp += ldx; wp += 8
            }
        }
        acc.store(o, ldo)
    }

    /// 8 rows × 32 columns: row i is (a_i, b_i).
    struct Tile {
        var a0 = V(), b0 = V(), a1 = V(), b1 = V(), a2 = V(), b2 = V(), a3 = V(), b3 = V()
        var a4 = V(), b4 = V(), a5 = V(), b5 = V(), a6 = V(), b6 = V(), a7 = V(), b7 = V()

        /// row i += w[i] · (x0, x1)
        @inline(__always) mutating func addProducts(_ x0: V, _ x1: V, _ w: UnsafePointer<Float>) {
            var s = V(repeating: w[0]); a0 = a0.addingProduct(x0, s); b0 = b0.addingProduct(x1, s)
            s = V(repeating: w[1]); a1 = a1.addingProduct(x0, s); b1 = b1.addingProduct(x1, s)
            s = V(repeating: w[2]); a2 = a2.addingProduct(x0, s); b2 = b2.addingProduct(x1, s)
            s = V(repeating: w[3]); a3 = a3.addingProduct(x0, s); b3 = b3.addingProduct(x1, s)
            s = V(repeating: w[4]); a4 = a4.addingProduct(x0, s); b4 = b4.addingProduct(x1, s)
            s = V(repeating: w[5]); a5 = a5.addingProduct(x0, s); b5 = b5.addingProduct(x1, s)
            s = V(repeating: w[6]); a6 = a6.addingProduct(x0, s); b6 = b6.addingProduct(x1, s)
            s = V(repeating: w[7]); a7 = a7.addingProduct(x0, s); b7 = b7.addingProduct(x1, s)
        }
        /// row i += p[i·ld ..< i·ld + 32]
        @inline(__always) mutating func add(_ p: UnsafePointer<Float>, _ ld: Int) {
            a0 += load(p); b0 += load(p + 16); a1 += load(p + ld); b1 += load(p + ld + 16)
            a2 += load(p + 2 * ld); b2 += load(p + 2 * ld + 16); a3 += load(p + 3 * ld); b3 += load(p + 3 * ld + 16)
            a4 += load(p + 4 * ld); b4 += load(p + 4 * ld + 16); a5 += load(p + 5 * ld); b5 += load(p + 5 * ld + 16)
            a6 += load(p + 6 * ld); b6 += load(p + 6 * ld + 16); a7 += load(p + 7 * ld); b7 += load(p + 7 * ld + 16)
        }
        /// row i += c[i] (as 1 · c[i], which is exact)
        @inline(__always) mutating func addBias(_ c: UnsafePointer<Float>) { addProducts(V(repeating: 1), V(repeating: 1), c) }
        @inline(__always) func store(_ o: UnsafeMutablePointer<Float>, _ ld: Int) {
            ConvKernel.store(a0, o); ConvKernel.store(b0, o + 16); ConvKernel.store(a1, o + ld); ConvKernel.store(b1, o + ld + 16)
            ConvKernel.store(a2, o + 2 * ld); ConvKernel.store(b2, o + 2 * ld + 16)
            ConvKernel.store(a3, o + 3 * ld); ConvKernel.store(b3, o + 3 * ld + 16)
            ConvKernel.store(a4, o + 4 * ld); ConvKernel.store(b4, o + 4 * ld + 16)
            ConvKernel.store(a5, o + 5 * ld); ConvKernel.store(b5, o + 5 * ld + 16)
            ConvKernel.store(a6, o + 6 * ld); ConvKernel.store(b6, o + 6 * ld + 16)
            ConvKernel.store(a7, o + 7 * ld); ConvKernel.store(b7, o + 7 * ld + 16)
        }
    }
}
