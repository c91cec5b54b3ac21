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
/// 1024³ rate (91–93). This kernel reads the window in place (no packing) and writes each output
/// tile once: 110–115 GFLOP/s on the same shapes (C = 32…128, k = 7, d = 1 or 9, 4,096 columns;
/// measured in isolation, one thread). Columns past the last multiple of 32 go to BLAS.
enum ConvKernel {
    typealias V = SIMD16<Float>

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    /// tiles[((b·nq + q)·K + k)·8 + r] = W_q[8b + r, k], from `W_q[row, k] = w[q·qStride + row·rowStride + k·kStride]`.
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
    /// t < n32 (a multiple of 32); `accumulate` adds to what `out` holds.
    static func products(_ tiles: UnsafePointer<Float>, rows: Int, K: Int, shifts: UnsafePointer<Int>, nq: Int,
                         x: UnsafePointer<Float>, ldx: Int, out: UnsafeMutablePointer<Float>, ldo: Int, n32: Int, accumulate: Bool) {
        for b in 0..<rows / 8 {
            let w = tiles + b * nq * K * 8, o = out + 8 * b * ldo
            var t = 0
            while t < n32 {
                tile(w, K: K, shifts: shifts, nq: nq, x: x + t, ldx: ldx, out: o + t, ldo: ldo, accumulate: accumulate)
                t += 32
            }
        }
    }

    /// One 8 × 32 output tile: 16 accumulators of 16 lanes.
    @inline(__always)
    static func tile(_ w: UnsafePointer<Float>, K: Int, shifts: UnsafePointer<Int>, nq: Int, x: UnsafePointer<Float>, ldx: Int,
                     out o: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool) {
        var a0 = V(), b0 = V(), a1 = V(), b1 = V(), a2 = V(), b2 = V(), a3 = V(), b3 = V()
        var a4 = V(), b4 = V(), a5 = V(), b5 = V(), a6 = V(), b6 = V(), a7 = V(), b7 = V()
        if accumulate {
            a0 = load(o); b0 = load(o + 16); a1 = load(o + ldo); b1 = load(o + ldo + 16)
            a2 = load(o + 2 * ldo); b2 = load(o + 2 * ldo + 16); a3 = load(o + 3 * ldo); b3 = load(o + 3 * ldo + 16)
            a4 = load(o + 4 * ldo); b4 = load(o + 4 * ldo + 16); a5 = load(o + 5 * ldo); b5 = load(o + 5 * ldo + 16)
            a6 = load(o + 6 * ldo); b6 = load(o + 6 * ldo + 16); a7 = load(o + 7 * ldo); b7 = load(o + 7 * ldo + 16)
        }
        var wp = w
        for q in 0..<nq {
            var xp = x + shifts[q]
            for _ in 0..<K {
                let x0 = load(xp), x1 = load(xp + 16)
                var s = V(repeating: wp[0]); a0 = a0.addingProduct(x0, s); b0 = b0.addingProduct(x1, s)
                s = V(repeating: wp[1]); a1 = a1.addingProduct(x0, s); b1 = b1.addingProduct(x1, s)
                s = V(repeating: wp[2]); a2 = a2.addingProduct(x0, s); b2 = b2.addingProduct(x1, s)
                s = V(repeating: wp[3]); a3 = a3.addingProduct(x0, s); b3 = b3.addingProduct(x1, s)
                s = V(repeating: wp[4]); a4 = a4.addingProduct(x0, s); b4 = b4.addingProduct(x1, s)
                s = V(repeating: wp[5]); a5 = a5.addingProduct(x0, s); b5 = b5.addingProduct(x1, s)
                s = V(repeating: wp[6]); a6 = a6.addingProduct(x0, s); b6 = b6.addingProduct(x1, s)
                s = V(repeating: wp[7]); a7 = a7.addingProduct(x0, s); b7 = b7.addingProduct(x1, s)
                xp += ldx; wp += 8
            }
        }
        store(a0, o); store(b0, o + 16); store(a1, o + ldo); store(b1, o + ldo + 16)
        store(a2, o + 2 * ldo); store(b2, o + 2 * ldo + 16); store(a3, o + 3 * ldo); store(b3, o + 3 * ldo + 16)
        store(a4, o + 4 * ldo); store(b4, o + 4 * ldo + 16); store(a5, o + 5 * ldo); store(b5, o + 5 * ldo + 16)
        store(a6, o + 6 * ldo); store(b6, o + 6 * ldo + 16); store(a7, o + 7 * ldo); store(b7, o + 7 * ldo + 16)
    }
}
