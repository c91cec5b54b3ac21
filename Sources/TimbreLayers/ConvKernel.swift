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
/// is one AVX-512 register here (`-target-cpu native`). On a CPU without AVX-512 it becomes two
/// AVX2 registers and the 8 × 32 tile's accumulators need twice the 16 registers AVX2 has; there
/// the engine uses the `narrow` kernels instead (`CPUFeatures.avx512`): 4 × 16 sub-tiles of
/// `SIMD8`, and 2 × 6 weight-gradient tiles, which fit in 16 registers.
import TimbreTensor

enum ConvKernel {
    typealias V = SIMD16<Float>

    typealias V8 = SIMD8<Float>

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }
    @inline(__always) static func load8(_ p: UnsafePointer<Float>) -> V8 { UnsafeRawPointer(p).loadUnaligned(as: V8.self) }
    @inline(__always) static func store8(_ v: V8, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V8.self)
    }

    /// tiles[((b·nq + q)·K + k)·8 + r] = W_q[8b + r, k], from
    /// `W_q[row, k] = w[q·qStride + row·rowStride + k·kStride]`. Blocks b split over the cores.
    static func tileWeights(_ w: UnsafePointer<Float>, rows: Int, K: Int, nq: Int, qStride: Int, rowStride: Int, kStride: Int,
                            into tiles: UnsafeMutablePointer<Float>) {
        let ps = (w, tiles)
        Parallel.range(rows / 8, grain: max(1, Kernels.grain / max(1, 8 * nq * K))) { bs in
            let (w, tiles) = ps
            for b in bs {
                for q in 0..<nq {
                    for k in 0..<K {
                        let dst = tiles + ((b * nq + q) * K + k) * 8, src = w + q * qStride + 8 * b * rowStride + k * kStride
                        for r in 0..<8 { dst[r] = src[r * rowStride] }
                    }
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
                         bias: UnsafePointer<Float>? = nil, residual: UnsafePointer<Float>? = nil, ldr: Int = 0, narrow: Bool = false) {
        for b in 0..<rows / 8 {
            let w = tiles + b * nq * K * 8, o = out + 8 * b * ldo
            let bb = bias.map { $0 + 8 * b }, rb = residual.map { $0 + 8 * b * ldr }
            var t = 0
            while t < n32 {
                if narrow {
                    // the same 8 × 32 tile as four 4 × 16 sub-tiles
                    for h in 0..<2 {
                        for c in 0..<2 {
                            let off = 4 * h, col = t + 16 * c
                            tile(NarrowTile.self, w + off, K: K, shifts: shifts, nq: nq, x: x + col, ldx: ldx, out: o + off * ldo + col,
                                 ldo: ldo, accumulate: accumulate, bias: bb.map { $0 + off }, residual: rb.map { $0 + off * ldr + col }, ldr: ldr)
                        }
                    }
                } else {
                    tile(Tile.self, w, K: K, shifts: shifts, nq: nq, x: x + t, ldx: ldx, out: o + t, ldo: ldo, accumulate: accumulate,
                         bias: bb, residual: rb.map { $0 + t }, ldr: ldr)
                }
                t += 32
            }
        }
    }

    /// One output tile held in registers (`Tile`: 8 × 32 in 16 registers of 16 lanes;
    /// `NarrowTile`: 4 × 16 in 8 registers of 8 lanes, rows `w[0..<4]` of each 8-row weight group).
    @inline(__always)
    static func tile<A: RegisterTile>(_: A.Type, _ w: UnsafePointer<Float>, K: Int, shifts: UnsafePointer<Int>, nq: Int,
                                      x: UnsafePointer<Float>, ldx: Int, out o: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool,
                                      bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, ldr: Int) {
        var acc = A()
        if accumulate { acc.add(o, ldo) }
        if let residual { acc.add(residual, ldr) }
        if let bias { acc.addBias(bias) }
        var wp = w
        for q in 0..<nq {
            var xp = x + shifts[q]
            for _ in 0..<K {
                acc.addProducts(xp, wp)
                xp += ldx; wp += 8
            }
        }
        acc.store(o, ldo)
    }

    /// A tile's accumulators: rows of `x`-row products weighted by `w[i]`, loaded from and stored
    /// to rows `ld` apart.
    protocol RegisterTile {
        init()
        /// row i += w[i] · x[0..<columns]
        mutating func addProducts(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>)
        /// row i += p[i·ld ..< i·ld + columns]
        mutating func add(_ p: UnsafePointer<Float>, _ ld: Int)
        /// row i += c[i] (as 1 · c[i], which is exact)
        mutating func addBias(_ c: UnsafePointer<Float>)
        func store(_ o: UnsafeMutablePointer<Float>, _ ld: Int)
    }

    /// 4 rows × 16 columns: row i is (a_i, b_i).
    struct NarrowTile: RegisterTile {
        var a0 = V8(), b0 = V8(), a1 = V8(), b1 = V8(), a2 = V8(), b2 = V8(), a3 = V8(), b3 = V8()

        @inline(__always) mutating func addProducts(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>) {
            addProducts(load8(x), load8(x + 8), w)
        }
        @inline(__always) mutating func addBias(_ c: UnsafePointer<Float>) { addProducts(V8(repeating: 1), V8(repeating: 1), c) }

        /// row i += w[i] · (x0, x1)
        @inline(__always) mutating func addProducts(_ x0: V8, _ x1: V8, _ w: UnsafePointer<Float>) {
            var s = V8(repeating: w[0]); a0 = a0.addingProduct(x0, s); b0 = b0.addingProduct(x1, s)
            s = V8(repeating: w[1]); a1 = a1.addingProduct(x0, s); b1 = b1.addingProduct(x1, s)
            s = V8(repeating: w[2]); a2 = a2.addingProduct(x0, s); b2 = b2.addingProduct(x1, s)
            s = V8(repeating: w[3]); a3 = a3.addingProduct(x0, s); b3 = b3.addingProduct(x1, s)
        }
        /// row i += p[i·ld ..< i·ld + 16]
        @inline(__always) mutating func add(_ p: UnsafePointer<Float>, _ ld: Int) {
            a0 += load8(p); b0 += load8(p + 8); a1 += load8(p + ld); b1 += load8(p + ld + 8)
            a2 += load8(p + 2 * ld); b2 += load8(p + 2 * ld + 8); a3 += load8(p + 3 * ld); b3 += load8(p + 3 * ld + 8)
        }
        @inline(__always) func store(_ o: UnsafeMutablePointer<Float>, _ ld: Int) {
            ConvKernel.store8(a0, o); ConvKernel.store8(b0, o + 8); ConvKernel.store8(a1, o + ld); ConvKernel.store8(b1, o + ld + 8)
            ConvKernel.store8(a2, o + 2 * ld); ConvKernel.store8(b2, o + 2 * ld + 8)
            ConvKernel.store8(a3, o + 3 * ld); ConvKernel.store8(b3, o + 3 * ld + 8)
        }
    }

    /// 8 rows × 32 columns: row i is (a_i, b_i).
    struct Tile: RegisterTile {
        var a0 = V(), b0 = V(), a1 = V(), b1 = V(), a2 = V(), b2 = V(), a3 = V(), b3 = V()
        var a4 = V(), b4 = V(), a5 = V(), b5 = V(), a6 = V(), b6 = V(), a7 = V(), b7 = V()

        @inline(__always) mutating func addProducts(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>) {
            addProducts(load(x), load(x + 16), w)
        }

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

    /// acc[q·qStride + m·ldm + k] += Σ_{t<n} r[m·ldr + t] · x[k·ldx + shifts[q] + t] for m < rows
    /// (a multiple of 4), k < K, q < nq: a weight gradient's shifted products (`ConvEngine.weightGrad`).
    /// Tiles of 4 rows of `r` × 6 (q, k) rows of `x`, 24 accumulators over t; each tile's sums are
    /// reduced across lanes once at the end. (Written out: the same tile with its accumulators
    /// in small structs, like `Tile`, ran at 64–68 instead of 98–102 GFLOP/s; and with the 24
    /// sums' tail columns and stores as loops over a stack array instead of the lines below,
    /// Conv1d 64→64 k7's backward fell from 168–178 to 127 GFLOP/s in `bench layers`.)
    /// `narrow` runs `narrowWeightProducts`, the AVX2 form.
    static func weightProducts(r: UnsafePointer<Float>, ldr: Int, rows: Int, x: UnsafePointer<Float>, ldx: Int, K: Int,
                               shifts: UnsafePointer<Int>, nq: Int, n: Int, acc: UnsafeMutablePointer<Float>, qStride: Int, ldm: Int,
                               narrow: Bool = false) {
        if narrow {
            return narrowWeightProducts(r: r, ldr: ldr, rows: rows, x: x, ldx: ldx, K: K, shifts: shifts, nq: nq, n: n, acc: acc,
                                        qStride: qStride, ldm: ldm)
        }
        let pairs = nq * K, n16 = n / 16 * 16
        @inline(__always) func h(_ v: V) -> Float { Kernels.lanesSum(v) }
        // the (shift, window row) pairs' offsets, on the stack: this runs once per chunk of every
        // weight gradient
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * pairs) { offsets in
            let xo = offsets.baseAddress!, oo = xo + pairs
            for q in 0..<nq { for k in 0..<K { xo[q * K + k] = k * ldx + shifts[q]; oo[q * K + k] = q * qStride + k } }
            for m in stride(from: 0, to: rows, by: 4) {
                let r0 = r + m * ldr, r1 = r0 + ldr, r2 = r1 + ldr, r3 = r2 + ldr
                let o = acc + m * ldm
                var j = 0
                while j + 6 <= pairs {
                    let x0 = x + xo[j + 0], x1 = x + xo[j + 1], x2 = x + xo[j + 2], x3 = x + xo[j + 3], x4 = x + xo[j + 4], x5 = x + xo[j + 5]
                    var c00 = V(), c01 = V(), c02 = V(), c03 = V(), c04 = V(), c05 = V(), c10 = V(), c11 = V(), c12 = V(), c13 = V()
                    var c14 = V(), c15 = V(), c20 = V(), c21 = V(), c22 = V(), c23 = V(), c24 = V(), c25 = V(), c30 = V(), c31 = V()
                    var c32 = V(), c33 = V(), c34 = V(), c35 = V()
                    var t = 0
                    while t < n16 {
                        let a0 = load(r0 + t), a1 = load(r1 + t), a2 = load(r2 + t), a3 = load(r3 + t)
                        let b0 = load(x0 + t)
                        c00 = c00.addingProduct(a0, b0); c10 = c10.addingProduct(a1, b0)
                        c20 = c20.addingProduct(a2, b0); c30 = c30.addingProduct(a3, b0)
                        let b1 = load(x1 + t)
                        c01 = c01.addingProduct(a0, b1); c11 = c11.addingProduct(a1, b1)
                        c21 = c21.addingProduct(a2, b1); c31 = c31.addingProduct(a3, b1)
                        let b2 = load(x2 + t)
                        c02 = c02.addingProduct(a0, b2); c12 = c12.addingProduct(a1, b2)
                        c22 = c22.addingProduct(a2, b2); c32 = c32.addingProduct(a3, b2)
                        let b3 = load(x3 + t)
                        c03 = c03.addingProduct(a0, b3); c13 = c13.addingProduct(a1, b3)
                        c23 = c23.addingProduct(a2, b3); c33 = c33.addingProduct(a3, b3)
                        let b4 = load(x4 + t)
                        c04 = c04.addingProduct(a0, b4); c14 = c14.addingProduct(a1, b4)
                        c24 = c24.addingProduct(a2, b4); c34 = c34.addingProduct(a3, b4)
                        let b5 = load(x5 + t)
                        c05 = c05.addingProduct(a0, b5); c15 = c15.addingProduct(a1, b5)
                        c25 = c25.addingProduct(a2, b5); c35 = c35.addingProduct(a3, b5)
                        t += 16
                    }
                    var s00 = h(c00), s01 = h(c01), s02 = h(c02), s03 = h(c03), s04 = h(c04), s05 = h(c05)
                    var s10 = h(c10), s11 = h(c11), s12 = h(c12), s13 = h(c13), s14 = h(c14), s15 = h(c15)
                    var s20 = h(c20), s21 = h(c21), s22 = h(c22), s23 = h(c23), s24 = h(c24), s25 = h(c25)
                    var s30 = h(c30), s31 = h(c31), s32 = h(c32), s33 = h(c33), s34 = h(c34), s35 = h(c35)
                    for t in n16..<n {
                        s00 += r0[t] * x0[t]; s01 += r0[t] * x1[t]; s02 += r0[t] * x2[t]
                        s03 += r0[t] * x3[t]; s04 += r0[t] * x4[t]; s05 += r0[t] * x5[t]
                        s10 += r1[t] * x0[t]; s11 += r1[t] * x1[t]; s12 += r1[t] * x2[t]
                        s13 += r1[t] * x3[t]; s14 += r1[t] * x4[t]; s15 += r1[t] * x5[t]
                        s20 += r2[t] * x0[t]; s21 += r2[t] * x1[t]; s22 += r2[t] * x2[t]
                        s23 += r2[t] * x3[t]; s24 += r2[t] * x4[t]; s25 += r2[t] * x5[t]
                        s30 += r3[t] * x0[t]; s31 += r3[t] * x1[t]; s32 += r3[t] * x2[t]
                        s33 += r3[t] * x3[t]; s34 += r3[t] * x4[t]; s35 += r3[t] * x5[t]
                    }
                    o[0 * ldm + oo[j + 0]] += s00; o[0 * ldm + oo[j + 1]] += s01; o[0 * ldm + oo[j + 2]] += s02
                    o[0 * ldm + oo[j + 3]] += s03; o[0 * ldm + oo[j + 4]] += s04; o[0 * ldm + oo[j + 5]] += s05
                    o[1 * ldm + oo[j + 0]] += s10; o[1 * ldm + oo[j + 1]] += s11; o[1 * ldm + oo[j + 2]] += s12
                    o[1 * ldm + oo[j + 3]] += s13; o[1 * ldm + oo[j + 4]] += s14; o[1 * ldm + oo[j + 5]] += s15
                    o[2 * ldm + oo[j + 0]] += s20; o[2 * ldm + oo[j + 1]] += s21; o[2 * ldm + oo[j + 2]] += s22
                    o[2 * ldm + oo[j + 3]] += s23; o[2 * ldm + oo[j + 4]] += s24; o[2 * ldm + oo[j + 5]] += s25
                    o[3 * ldm + oo[j + 0]] += s30; o[3 * ldm + oo[j + 1]] += s31; o[3 * ldm + oo[j + 2]] += s32
                    o[3 * ldm + oo[j + 3]] += s33; o[3 * ldm + oo[j + 4]] += s34; o[3 * ldm + oo[j + 5]] += s35
                    j += 6
                }
                while j < pairs {
                    let xj = x + xo[j]
                    var c0 = V(), c1 = V(), c2 = V(), c3 = V()
                    var t = 0
                    while t < n16 {
                        let b = load(xj + t)
                        c0 = c0.addingProduct(load(r0 + t), b); c1 = c1.addingProduct(load(r1 + t), b)
                        c2 = c2.addingProduct(load(r2 + t), b); c3 = c3.addingProduct(load(r3 + t), b)
                        t += 16
                    }
                    var s0 = h(c0), s1 = h(c1), s2 = h(c2), s3 = h(c3)
                    for t in n16..<n { s0 += r0[t] * xj[t]; s1 += r1[t] * xj[t]; s2 += r2[t] * xj[t]; s3 += r3[t] * xj[t] }
                    o[oo[j]] += s0; o[ldm + oo[j]] += s1; o[2 * ldm + oo[j]] += s2; o[3 * ldm + oo[j]] += s3
                    j += 1
                }
            }
        }
    }

    /// `weightProducts` for AVX2 (`narrow`; rows a multiple of 2): tiles of 2 rows of `r` × 6 (q, k) rows of `x`, 12
    /// accumulators of 8 lanes, which with the 2 row loads and one `x` load fit AVX2's 16 registers.
    static func narrowWeightProducts(r: UnsafePointer<Float>, ldr: Int, rows: Int, x: UnsafePointer<Float>, ldx: Int, K: Int,
                                     shifts: UnsafePointer<Int>, nq: Int, n: Int, acc: UnsafeMutablePointer<Float>, qStride: Int, ldm: Int) {
        let pairs = nq * K, n8 = n / 8 * 8
        @inline(__always) func h(_ v: V8) -> Float { let a = v.lowHalf + v.highHalf, b = a.lowHalf + a.highHalf; return b[0] + b[1] }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * pairs) { offsets in
            let xo = offsets.baseAddress!, oo = xo + pairs
            for q in 0..<nq { for k in 0..<K { xo[q * K + k] = k * ldx + shifts[q]; oo[q * K + k] = q * qStride + k } }
            for m in stride(from: 0, to: rows, by: 2) {
                let r0 = r + m * ldr, r1 = r0 + ldr
                let o = acc + m * ldm
                var j = 0
                while j + 6 <= pairs {
                    let x0 = x + xo[j + 0], x1 = x + xo[j + 1], x2 = x + xo[j + 2], x3 = x + xo[j + 3], x4 = x + xo[j + 4], x5 = x + xo[j + 5]
                    var c00 = V8(), c01 = V8(), c02 = V8(), c03 = V8(), c04 = V8(), c05 = V8()
                    var c10 = V8(), c11 = V8(), c12 = V8(), c13 = V8(), c14 = V8(), c15 = V8()
                    var t = 0
                    while t < n8 {
                        let a0 = load8(r0 + t), a1 = load8(r1 + t)
                        var b = load8(x0 + t); c00 = c00.addingProduct(a0, b); c10 = c10.addingProduct(a1, b)
                        b = load8(x1 + t); c01 = c01.addingProduct(a0, b); c11 = c11.addingProduct(a1, b)
                        b = load8(x2 + t); c02 = c02.addingProduct(a0, b); c12 = c12.addingProduct(a1, b)
                        b = load8(x3 + t); c03 = c03.addingProduct(a0, b); c13 = c13.addingProduct(a1, b)
                        b = load8(x4 + t); c04 = c04.addingProduct(a0, b); c14 = c14.addingProduct(a1, b)
                        b = load8(x5 + t); c05 = c05.addingProduct(a0, b); c15 = c15.addingProduct(a1, b)
                        t += 8
                    }
                    var s00 = h(c00), s01 = h(c01), s02 = h(c02), s03 = h(c03), s04 = h(c04), s05 = h(c05)
                    var s10 = h(c10), s11 = h(c11), s12 = h(c12), s13 = h(c13), s14 = h(c14), s15 = h(c15)
                    for t in n8..<n {
                        s00 += r0[t] * x0[t]; s01 += r0[t] * x1[t]; s02 += r0[t] * x2[t]
                        s03 += r0[t] * x3[t]; s04 += r0[t] * x4[t]; s05 += r0[t] * x5[t]
                        s10 += r1[t] * x0[t]; s11 += r1[t] * x1[t]; s12 += r1[t] * x2[t]
                        s13 += r1[t] * x3[t]; s14 += r1[t] * x4[t]; s15 += r1[t] * x5[t]
                    }
                    o[oo[j + 0]] += s00; o[oo[j + 1]] += s01; o[oo[j + 2]] += s02
                    o[oo[j + 3]] += s03; o[oo[j + 4]] += s04; o[oo[j + 5]] += s05
                    o[ldm + oo[j + 0]] += s10; o[ldm + oo[j + 1]] += s11; o[ldm + oo[j + 2]] += s12
                    o[ldm + oo[j + 3]] += s13; o[ldm + oo[j + 4]] += s14; o[ldm + oo[j + 5]] += s15
                    j += 6
                }
                while j < pairs {
                    let xj = x + xo[j]
                    var c0 = V8(), c1 = V8()
                    var t = 0
                    while t < n8 {
                        let b = load8(xj + t)
                        c0 = c0.addingProduct(load8(r0 + t), b); c1 = c1.addingProduct(load8(r1 + t), b)
                        t += 8
                    }
                    var s0 = h(c0), s1 = h(c1)
                    for t in n8..<n { s0 += r0[t] * xj[t]; s1 += r1[t] * xj[t] }
                    o[oo[j]] += s0; o[ldm + oo[j]] += s1
                    j += 1
                }
            }
        }
    }
}
