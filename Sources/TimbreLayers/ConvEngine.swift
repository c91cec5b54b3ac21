import TimbreTensor

/// The index map shared by Conv1d and ConvTranspose1d.
///
/// A *signal* `[C, L]` and a *response* `[M, T]` are related through a matrix `A [M, C·k]` by
///
///     response[m, t] = Σ_{c, j} A[m, c·k + j] · signal[c, t·s + j·d − p]     (out-of-range → 0)
///
/// Conv1d: signal = input `[Cin, Tin]`, response = output, `A` = weight `[Cout, Cin·k]`.
/// ConvTranspose1d: signal = output `[Cout, Tout]`, response = input, `A` = weight `[Cin, Cout·k]`.
/// So both layers need the same three products, each per batch element:
/// - `gather`:  response = A · im2col(signal)             (Conv1d forward, ConvTranspose1d dx)
/// - `scatter`: signal  += im2colᵀ(Aᵀ · response)         (Conv1d dx, ConvTranspose1d forward)
/// - `weightGrad`: dA += response · im2col(signal)ᵀ       (both layers' weight gradient)
public struct ConvGeometry: Equatable, Sendable {
    public var C: Int, L: Int, M: Int, T: Int, k: Int, s: Int, d: Int, p: Int
}

/// Runs the three products of `ConvGeometry` without an im2col matrix, by polyphase
/// decomposition: tap j reads `signal[c, t·s + j·d − p]`; writing `j·d = a·s + r` (0 ≤ r < s), that is
/// `X[c·s + r, t + a]` in the *phase window* `X[c·s + r, i] = signal[c, i·s + r − p]`. Taps with the
/// same shift `a` form one matrix `A_a [M, C·s]` (zero where no tap lands), so
///
///     response[:, t] = Σ_a A_a · X[:, t + a]
///
/// is one GEMM per distinct shift on pointer offsets into a window that is built once per chunk
/// (each signal sample copied once) and stays in cache. At stride 1 the window is a zero-padded
/// copy and there are k shifts j·d; at stride s with k = 2s, d = 1 there are 2 shifts with K = C·s.
/// Work is split over (batch element × chunk) items on all cores, each calling single-threaded
/// BLAS, and every item writes only its own outputs (weight gradients go to per-worker partials).
public final class ConvEngine<T: TensorScalar> {
    /// Target elements of one window (`C·s × columns`); tests lower it to force many chunks.
    /// (Measured on 2 Zen cores: 2^15…2^19 all within noise; 2^17 is ~512 KB, within L2.)
    public var chunkElements = 1 << 17
    /// `ConvKernel`'s AVX2 tiles (`narrow`), by default where the CPU lacks AVX-512; tests run
    /// both on any x86-64 CPU.
    public var narrowKernels = !CPUFeatures.avx512
    /// A SnakeBeta applied to the signal as it is read: `alpha`, `beta` per signal channel.
    public typealias Activation = (alpha: UnsafePointer<T>, beta: UnsafePointer<T>)
    var scratch = ScratchBuffers<T>()
    var packed = Tensor<T>(zeros: [0])
    var plan: Plan?
    /// The packed forms of the weights (`pack`, `tiles`) are reused while the weights' address,
    /// the geometry and this version stay the same. The layer bumps it whenever the weights may
    /// have changed (every training forward, `weightsChanged()`), so a training step packs once
    /// for its forward and its backward, and inference packs once.
    public var weightsVersion = 0
    var packedFor: [Int]?
    /// The packed weights in `ConvKernel`'s tile layout, for gather's products (0) and scatter's (1).
    var tileBuffers = [Tensor<T>(zeros: [0]), Tensor<T>(zeros: [0])]
    var tilesValid = [false, false]

    struct Plan: Equatable {
        var g: ConvGeometry
        /// Distinct shifts a, ascending, and for every tap j its group and phase.
        var shifts: [Int]
        var group: [Int], phase: [Int]
        var rows: Int { g.C * g.s }  // phase-window rows
        var maxShift: Int { shifts.last! }
        var blockSize: Int { g.M * rows }
        init(_ g: ConvGeometry) {
            self.g = g
            let a = (0..<g.k).map { $0 * g.d / g.s }
            let sorted = Array(Set(a)).sorted()
            shifts = sorted
            group = a.map { x in sorted.firstIndex(of: x)! }
            phase = (0..<g.k).map { $0 * g.d % g.s }
        }
    }

    public init() {}

    func makePlan(_ g: ConvGeometry) -> Plan {
        if let plan, plan.g == g { return plan }
        let p = Plan(g)
        plan = p
        return p
    }

    /// packed[a-group, m, c·s + r] = A[m, c·k + j] for the tap j with that shift and phase (zero
    /// where no tap lands). Rows m are split over the cores.
    func pack(_ P: Plan, _ A: UnsafePointer<T>) -> UnsafeMutablePointer<T> {
        let g = P.g
        let key = [Int(bitPattern: A), g.M, g.C, g.k, g.s, g.d, weightsVersion]
        if packedFor == key { return packed.data }
        packedFor = key
        tilesValid = [false, false]
        packed.resize([P.shifts.count * P.blockSize])
        let ps = (packed.data, A)
        let nq = P.shifts.count
        P.group.withUnsafeBufferPointer { group in
            P.phase.withUnsafeBufferPointer { phase in
                let ix = (group.baseAddress!, phase.baseAddress!)
                Parallel.range(g.M, grain: max(1, Kernels.grain / max(1, nq * P.rows))) { ms in
                    let (out, A) = ps, (group, phase) = ix
                    for m in ms {
                        for q in 0..<nq { (out + q * P.blockSize + m * P.rows).update(repeating: 0, count: P.rows) }
                        let src = A + m * g.C * g.k, dst = out + m * P.rows
                        for c in 0..<g.C {
                            for j in 0..<g.k { dst[group[j] * P.blockSize + c * g.s + phase[j]] = src[c * g.k + j] }
                        }
                    }
                }
            }
        }
        return packed.data
    }

    /// The packed weights in `ConvKernel`'s tile layout: for gather's products `A_a [M, C·s]`,
    /// or (`transposed`) for scatter's `A_aᵀ [C·s, M]`; nil where the kernel does not apply
    /// (`Double`, or a row count that is not a multiple of 8: those products stay with BLAS).
    func tiles(_ P: Plan, _ packed: UnsafePointer<T>, transposed: Bool) -> UnsafePointer<Float>? {
        let rows = transposed ? P.rows : P.g.M, K = transposed ? P.g.M : P.rows, i = transposed ? 1 : 0
        guard T.self == Float.self, rows % 8 == 0 else { return nil }
        if !tilesValid[i] {
            tileBuffers[i].resize([P.shifts.count * P.blockSize])
            ConvKernel.tileWeights(packed.floats, rows: rows, K: K, nq: P.shifts.count, qStride: P.blockSize,
                                   rowStride: transposed ? 1 : P.rows, kStride: transposed ? P.rows : 1,
                                   into: tileBuffers[i].data.floats)
            tilesValid[i] = true
        }
        return UnsafePointer(tileBuffers[i].data.floats)
    }

    /// `pack`, and `tiles` where chunks of `width` columns reach the kernel's 32 (narrower
    /// chunks go to BLAS alone: the latent-rate layers at T = 16, whose 2 M weights were tiled
    /// for nothing). Timed as one row of `LayerTimes`.
    func packTiles(_ P: Plan, _ A: UnsafePointer<T>, transposed: Bool, width: Int) -> (UnsafeMutablePointer<T>, UnsafePointer<Float>?) {
        LayerTimes.time("weight packing", flops: 0) {
            let Ap = pack(P, A)
            return (Ap, width >= 32 ? tiles(P, Ap, transposed: transposed) : nil)
        }
    }

    /// Σ_q op(A_q) · X[:, shifts[q] + i] (+ bias[r] + residual[r, i]) into `out` (ldo) for i in
    /// 0..<n: `ConvKernel` for the columns it covers (with `tiles`), BLAS for the rest (onto the
    /// bias and residual written there first). `accumulate` adds to `out`. `A_q` is
    /// `Ap + q·blockSize` with leading dimension `lda`, `rows × K` after `transA`.
    func shiftedProducts(tiles: UnsafePointer<Float>?, Ap: UnsafePointer<T>, transA: Bool, lda: Int, blockSize: Int, rows: Int, K: Int,
                         shifts: [Int], x: UnsafePointer<T>, ldx: Int, out: UnsafeMutablePointer<T>, ldo: Int, n: Int, accumulate: Bool,
                         bias: UnsafePointer<T>? = nil, residual: UnsafePointer<T>? = nil, ldr: Int = 0) {
        let n32 = tiles == nil ? 0 : n / 32 * 32
        if let tiles, n32 > 0 {
            shifts.withUnsafeBufferPointer { sh in
                ConvKernel.products(tiles, rows: rows, K: K, shifts: sh.baseAddress!, nq: sh.count, x: x.floats, ldx: ldx,
                                    out: out.floats, ldo: ldo, n32: n32, accumulate: accumulate,
                                    bias: bias.map { $0.floats }, residual: residual.map { $0.floats }, ldr: ldr, narrow: narrowKernels)
            }
        }
        guard n32 < n else { return }
        let prefilled = Self.prefill(out + n32, rows: rows, n: n - n32, ld: ldo, bias: bias, residual: residual.map { $0 + n32 }, ldr: ldr,
                                     accumulate: accumulate)
        for (q, a) in shifts.enumerated() {
            T.gemm(transA: transA, transB: false, m: rows, n: n - n32, k: K, alpha: 1, a: Ap + q * blockSize, lda: lda,
                   b: x + a + n32, ldb: ldx, beta: q == 0 && !accumulate && !prefilled ? 0 : 1, c: out + n32, ldc: ldo)
        }
    }

    /// out[m, i] (+)= bias[m] + residual[m, i] for m < rows, i < n; false (nothing written) when
    /// neither is given.
    static func prefill(_ out: UnsafeMutablePointer<T>, rows: Int, n: Int, ld: Int, bias: UnsafePointer<T>?,
                        residual: UnsafePointer<T>?, ldr: Int, accumulate: Bool) -> Bool {
        if bias == nil && residual == nil { return false }
        for m in 0..<rows {
            let row = out + m * ld, bv = bias?[m] ?? 0
            if !accumulate { for i in 0..<n { row[i] = 0 } }
            if let residual {
                let src = residual + m * ldr
                for i in 0..<n { row[i] += src[i] + bv }
            } else {
                for i in 0..<n { row[i] += bv }
            }
        }
        return true
    }

    /// Columns per chunk and the number of chunks for `total` columns of a window of `rows` rows,
    /// over `batch` examples. Items (example × chunk) go to the workers round-robin
    /// (`Parallel.items`, fixed so that weight-gradient sums are reproducible), so the chunks are
    /// made of (nearly) equal width and their number such that the items divide evenly among the
    /// workers where that keeps chunks at least 32 columns wide. (Cutting at the cache-sized width
    /// instead left a sliver: a stride-1 scatter at T = 1024 has 1,033 columns, cut into 1,024 + 9,
    /// and round-robin gave every wide chunk to one core: 102 GFLOP/s against 198 for the
    /// forward at the same shape.) Widths are multiples of 32 (`ConvKernel`'s tile) where that keeps
    /// the count.
    public func chunking(_ rows: Int, _ total: Int, batch: Int) -> (width: Int, count: Int) {
        let widest = max(32, min(total, chunkElements / max(rows, 1)))
        var count = (total + widest - 1) / widest
        let w = Parallel.workers
        if let even = (count..<count + w).first(where: { batch * $0 % w == 0 }), total / even >= 32 { count = even }
        let exact = (total + count - 1) / count, tiles = min(total, (exact + 31) / 32 * 32)
        let width = (total + tiles - 1) / tiles == count ? tiles : exact
        return (width, (total + width - 1) / width)
    }

    /// Columns i in 0..<width with 0 ≤ base + i·s < L, as a range.
    @inlinable
    func validColumns(base: Int, s: Int, L: Int, width: Int) -> Range<Int> {
        let lo = min(width, max(0, (-base + s - 1) / s))
        let hi = max(lo, min(width, base >= L ? 0 : (L - 1 - base) / s + 1))
        return lo..<hi
    }

    /// The columns of `v` before and after `common` (a sub-range of `v`, or empty): a few at each
    /// end, visited directly rather than by testing every column of `v` (which cost a pass over
    /// the window per phase).
    @inlinable
    static func outside(_ common: Range<Int>, _ v: Range<Int>) -> (Range<Int>, Range<Int>) {
        if common.isEmpty { return (v, v.upperBound..<v.upperBound) }
        return (v.lowerBound..<common.lowerBound, common.upperBound..<v.upperBound)
    }

    /// Columns valid for every phase r (the intersection of `validColumns` over r): these can be
    /// copied in one contiguous pass over the signal.
    @inlinable
    func commonColumns(_ g: ConvGeometry, i0: Int, width: Int) -> Range<Int> {
        var lo = 0, hi = width
        for r in 0..<g.s {
            let v = validColumns(base: i0 * g.s + r - g.p, s: g.s, L: g.L, width: width)
            lo = max(lo, v.lowerBound); hi = min(hi, v.upperBound)
        }
        return lo..<max(lo, hi)
    }

    /// X[c·s + r, i] = signal[c, (i0 + i)·s + r − p] for i in 0..<width (zero outside the signal).
    /// For s > 1 the columns every phase can read are copied in one pass over the signal
    /// (contiguous reads, s output streams) instead of s strided passes.
    /// With `snake` (SnakeBeta's `alpha`, `beta`, one per signal channel), the window holds
    /// `x + sin²(e^α·x)/(e^β + 1e-9)` of each signal sample x, exactly as `SnakeBeta.forward`
    /// computes it (padding stays 0, which the activation maps to 0).
    @inlinable
    func phaseWindow(_ g: ConvGeometry, _ signal: UnsafePointer<T>, i0: Int, width: Int, _ X: UnsafeMutablePointer<T>,
                     snake: Activation? = nil) {
        let s = g.s
        let common = commonColumns(g, i0: i0, width: width)
        for c in 0..<g.C {
            let src = signal + c * g.L
            for r in 0..<s {
                let row = X + (c * s + r) * width
                let base = i0 * s + r - g.p
                let v = validColumns(base: base, s: s, L: g.L, width: width)
                for i in 0..<v.lowerBound { row[i] = 0 }
                if s == 1 {
                    let sp = src + base
                    for i in v { row[i] = sp[i] }
                } else {
                    let (head, tail) = Self.outside(common, v)
                    for i in head { row[i] = src[base + i * s] }
                    for i in tail { row[i] = src[base + i * s] }
                }
                for i in v.upperBound..<width { row[i] = 0 }
            }
            if s > 1 && !common.isEmpty {
                Phases.split(src + i0 * s - g.p, s: s, into: X + c * s * width, ld: width, columns: common)
            }
            if let snake {
                let a = T.exp(snake.alpha[c]), q = 1 / (T.exp(snake.beta[c]) + 1e-9)
                for r in 0..<s {
                    let row = X + (c * s + r) * width
                    for i in validColumns(base: i0 * s + r - g.p, s: s, L: g.L, width: width) {
                        let x = row[i], sn = T.sin(a * x)
                        row[i] = x + q * sn * sn
                    }
                }
            }
        }
    }

    /// The phase window of `phaseWindow` (built in `X`), or with `inPlace`, at stride 1 with no
    /// activation and every column inside the signal, the signal itself: a window at stride 1 is
    /// a plain copy, and the products can read its rows in place (ld L instead of `width`).
    /// Returns the window's first element and leading dimension. Only the weight gradient reads
    /// in place: its tiles stream 10 rows at a time, while `ConvKernel.products` reads all K rows
    /// of a tile at once, which the hardware prefetchers do not follow from memory (C = 32 from a
    /// 16 MB signal, one core: 86 GFLOP/s in place, 101 through the copy; C = 64: 99 vs 106).
    @inline(__always)
    func window(_ g: ConvGeometry, _ signal: UnsafePointer<T>, i0: Int, width: Int, _ X: UnsafeMutablePointer<T>,
                snake: Activation? = nil, inPlace: Bool = false) -> (UnsafePointer<T>, Int) {
        let start = i0 - g.p  // stride 1: X[c, i] = signal[c, i0 + i − p]
        if inPlace && g.s == 1 && snake == nil && start >= 0 && start + width <= g.L { return (signal + start, g.L) }
        phaseWindow(g, signal, i0: i0, width: width, X, snake: snake)
        return (UnsafePointer(X), width)
    }

    /// response[b] = A · im2col(signal[b]) (+ bias[m] on row m, + residual[b]) for b in
    /// 0..<batch (overwrites response). The bias and residual start each output tile's sums
    /// (`ConvKernel`) or are written into the chunk just before BLAS accumulates onto them, so
    /// neither costs a pass of its own.
    public func gather(_ g: ConvGeometry, batch: Int, A: UnsafePointer<T>, signal: UnsafePointer<T>,
                       response: UnsafeMutablePointer<T>, bias: UnsafePointer<T>? = nil, residual: UnsafePointer<T>? = nil,
                       snake: Activation? = nil) {
        LayerTimes.time("gather \(g.label)", flops: g.flops(batch: batch)) {
            gatherProducts(g, batch: batch, A: A, signal: signal, response: response, bias: bias, residual: residual, snake: snake)
        }
    }

    func gatherProducts(_ g: ConvGeometry, batch: Int, A: UnsafePointer<T>, signal: UnsafePointer<T>,
                        response: UnsafeMutablePointer<T>, bias: UnsafePointer<T>?, residual: UnsafePointer<T>?,
                        snake: Activation?) {
        let P = makePlan(g)
        let (tc, chunks) = chunking(P.rows, g.T, batch: batch)
        for w in 0..<min(Parallel.workers, batch * chunks) { _ = scratch.buffer(w, P.rows * (tc + P.maxShift)) }
        let (Ap, tiles) = packTiles(P, A, transposed: false, width: tc)
        let ptrs = (Ap, tiles, signal, response, bias, residual, snake)
        BLAS.singleThreaded {
            Parallel.items(batch * chunks) { item, w in
                let (Ap, tiles, signal, response, bias, residual, snake) = ptrs
                let b = item / chunks, t0 = (item % chunks) * tc, n = min(g.T, t0 + tc) - t0
                let (X, ldx) = self.window(g, signal + b * g.C * g.L, i0: t0, width: n + P.maxShift, self.scratch[w].data, snake: snake)
                let out = response + b * g.M * g.T + t0
                self.shiftedProducts(tiles: tiles, Ap: Ap, transA: false, lda: P.rows, blockSize: P.blockSize, rows: g.M, K: P.rows,
                                     shifts: P.shifts, x: X, ldx: ldx, out: out, ldo: g.T, n: n, accumulate: false,
                                     bias: bias, residual: residual.map { $0 + b * g.M * g.T + t0 }, ldr: g.T)
            }
        }
    }

    /// signal[b] += im2colᵀ(Aᵀ · response[b]). Chunks are ranges of phase-window columns i, which
    /// own the signal samples i·s + r − p, so no two items write the same sample. With `snake`,
    /// the response is read through that activation (as in `phaseWindow`).
    public func scatter(_ g: ConvGeometry, batch: Int, A: UnsafePointer<T>, response: UnsafePointer<T>,
                        signal: UnsafeMutablePointer<T>, snake: Activation? = nil) {
        LayerTimes.time("scatter \(g.label)", flops: g.flops(batch: batch)) {
            scatterProducts(g, batch: batch, A: A, response: response, signal: signal, snake: snake)
        }
    }

    func scatterProducts(_ g: ConvGeometry, batch: Int, A: UnsafePointer<T>, response: UnsafePointer<T>,
                         signal: UnsafeMutablePointer<T>, snake: Activation?) {
        let P = makePlan(g)
        let columnsTotal = (g.L + g.p + g.s - 1) / g.s  // i with i·s − p < L
        let (ic, chunks) = chunking(P.rows, columnsTotal, batch: batch)
        let span = P.maxShift
        for w in 0..<min(Parallel.workers, batch * chunks) {
            _ = scratch.buffer(2 * w, g.M * (ic + span))
            _ = scratch.buffer(2 * w + 1, P.rows * ic)
        }
        let (Ap, tiles) = packTiles(P, A, transposed: true, width: ic)
        let shifts = P.shifts.map { span - $0 }  // the shift-a term reads column x = i − i0 + span − a of R
        let ptrs = (Ap, tiles, response, signal, snake)
        BLAS.singleThreaded {
            Parallel.items(batch * chunks) { item, w in
                let (Ap, tiles, response, signal, snake) = ptrs
                let b = item / chunks, i0 = (item % chunks) * ic, n = min(columnsTotal, i0 + ic) - i0
                let G = self.scratch[2 * w + 1].data
                // R[m, x] = response[m, i0 − span + x]: the shift-a term reads column x = i − i0 + span − a.
                let one = ConvGeometry(C: g.M, L: g.T, M: 0, T: 0, k: 1, s: 1, d: 1, p: 0)
                let (R, ldr) = self.window(one, response + b * g.M * g.T, i0: i0 - span, width: n + span, self.scratch[2 * w].data,
                                           snake: snake)
                let sig = signal + b * g.C * g.L
                if g.s == 1 && i0 - g.p >= 0 && i0 + n - g.p <= g.L {
                    // stride 1, every column inside the signal: G's rows are the signal's, add in place
                    self.shiftedProducts(tiles: tiles, Ap: Ap, transA: true, lda: P.rows, blockSize: P.blockSize, rows: P.rows, K: g.M,
                                         shifts: shifts, x: R, ldx: ldr, out: sig + i0 - g.p, ldo: g.L, n: n, accumulate: true)
                    return
                }
                self.shiftedProducts(tiles: tiles, Ap: Ap, transA: true, lda: P.rows, blockSize: P.blockSize, rows: P.rows, K: g.M,
                                     shifts: shifts, x: R, ldx: ldr, out: G, ldo: n, n: n, accumulate: false)
                let common = self.commonColumns(g, i0: i0, width: n)
                for c in 0..<g.C {
                    let dst = sig + c * g.L
                    for r in 0..<g.s {
                        let row = G + (c * g.s + r) * n
                        let base = i0 * g.s + r - g.p
                        let v = self.validColumns(base: base, s: g.s, L: g.L, width: n)
                        if g.s == 1 {
                            let d = dst + base
                            for i in v { d[i] += row[i] }
                        } else {
                            let (head, tail) = Self.outside(common, v)
                            for i in head { dst[base + i * g.s] += row[i] }
                            for i in tail { dst[base + i * g.s] += row[i] }
                        }
                    }
                    if g.s > 1 && !common.isEmpty {
                        // interleave the s phase rows back into the signal with contiguous writes
                        Phases.mergeAdding(G + c * g.s * n, s: g.s, ld: n, into: dst + i0 * g.s - g.p, columns: common)
                    }
                }
            }
        }
    }

    /// dA += Σ_b response[b] · im2col(signal[b])ᵀ.
    public func weightGrad(_ g: ConvGeometry, batch: Int, response: UnsafePointer<T>, signal: UnsafePointer<T>,
                           dA: UnsafeMutablePointer<T>) {
        LayerTimes.time("weightGrad \(g.label)", flops: g.flops(batch: batch)) {
            weightGradProducts(g, batch: batch, response: response, signal: signal, dA: dA)
        }
    }

    func weightGradProducts(_ g: ConvGeometry, batch: Int, response: UnsafePointer<T>, signal: UnsafePointer<T>,
                            dA: UnsafeMutablePointer<T>) {
        let P = makePlan(g)
        let (tc, chunks) = chunking(P.rows, g.T, batch: batch)
        let items = batch * chunks, nw = min(Parallel.workers, items)
        let per = P.shifts.count * P.blockSize
        // Worker w: scratch[2w] its window, scratch[2w + 1] its partial gradient in packed layout.
        for w in 0..<nw {
            _ = scratch.buffer(2 * w, P.rows * (tc + P.maxShift))
            _ = scratch.buffer(2 * w + 1, per)
        }
        let ptrs = (response, signal)
        // ConvKernel.weightProducts where it beats BLAS: up to 64 window rows (one core, k = 7:
        // C = 32 102–107 vs 67–74 GFLOP/s, C = 64 98 vs 88; from C = 128 BLAS is faster: 96 vs 88;
        // with 256 rows, Conv1d 64→128 k8 s4's backward ran at 120–136 vs 141–149 in `bench layers`).
        let direct = T.self == Float.self && g.M % 4 == 0 && P.rows <= 64, narrow = narrowKernels
        BLAS.singleThreaded {
            Parallel.items(items, workers: nw) { item, w in
                let (response, signal) = ptrs
                let b = item / chunks, t0 = (item % chunks) * tc, n = min(g.T, t0 + tc) - t0
                let acc = self.scratch[2 * w + 1].data
                if item == w { acc.update(repeating: 0, count: per) }  // a worker's first item (round-robin) zeroes its partial
                let (X, ldx) = self.window(g, signal + b * g.C * g.L, i0: t0, width: n + P.maxShift, self.scratch[2 * w].data,
                                           inPlace: true)
                let r = response + b * g.M * g.T + t0
                if direct {
                    P.shifts.withUnsafeBufferPointer { sh in
                        ConvKernel.weightProducts(r: r.floats, ldr: g.T, rows: g.M, x: X.floats, ldx: ldx, K: P.rows,
                                                  shifts: sh.baseAddress!, nq: sh.count, n: n, acc: acc.floats,
                                                  qStride: P.blockSize, ldm: P.rows, narrow: narrow)
                    }
                    return
                }
                for (q, a) in P.shifts.enumerated() {
                    T.gemm(transA: false, transB: true, m: g.M, n: P.rows, k: n, alpha: 1, a: r,
                           lda: g.T, b: X + a, ldb: ldx, beta: 1, c: acc + q * P.blockSize, ldc: P.rows)
                }
            }
        }
        LayerTimes.time("weight-gradient unpacking", flops: 0) { unpack(P, workers: nw, into: dA) }
    }

    /// dA += the workers' partial gradients, from the packed layout (the inverse map of `pack`;
    /// rows m split over the cores, each row summing the workers in order).
    func unpack(_ P: Plan, workers nw: Int, into dA: UnsafeMutablePointer<T>) {
        let g = P.g
        let partials = (0..<nw).map { UnsafePointer(scratch[2 * $0 + 1].data) }
        let ps = (partials, dA)
        P.group.withUnsafeBufferPointer { group in
            P.phase.withUnsafeBufferPointer { phase in
                let ix = (group.baseAddress!, phase.baseAddress!)
                Parallel.range(g.M, grain: max(1, Kernels.grain / max(1, g.C * g.k))) { ms in
                    let (partials, dA) = ps, (group, phase) = ix
                    for m in ms {
                        let dst = dA + m * g.C * g.k
                        for acc in partials {
                            let src = acc + m * P.rows
                            for c in 0..<g.C {
                                for j in 0..<g.k { dst[c * g.k + j] += src[group[j] * P.blockSize + c * g.s + phase[j]] }
                            }
                        }
                    }
                }
            }
        }
    }
}
