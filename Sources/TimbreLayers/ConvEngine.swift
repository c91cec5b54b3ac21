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
/// - `scatter`: signal  += col2im(Aᵀ · response)          (Conv1d dx, ConvTranspose1d forward)
/// - `weightGrad`: dA += response · im2col(signal)ᵀ       (both layers' weight gradient)
public struct ConvGeometry: Equatable, Sendable {
    public var C: Int, L: Int, M: Int, T: Int, k: Int, s: Int, d: Int, p: Int
    /// First t whose tap j lands inside the signal: t·s + j·d − p ≥ 0.
    @inlinable func firstValid(_ j: Int) -> Int { max(0, ceilDiv(p - j * d, s)) }
    /// One past the last t whose tap j lands inside the signal: t·s + j·d − p ≤ L − 1.
    @inlinable func endValid(_ j: Int) -> Int { max(0, floorDiv(L - 1 + p - j * d, s) + 1) }
}

@inlinable func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
@inlinable func ceilDiv(_ a: Int, _ b: Int) -> Int { -floorDiv(-a, b) }

/// Runs the three products of `ConvGeometry`, split over (batch element × time chunk) work items
/// on all cores, each calling single-threaded BLAS on a column chunk that stays in cache.
/// Keeps per-worker scratch buffers between calls.
public final class ConvEngine<T: TensorScalar> {
    var scratch: [Tensor<T>] = []
    /// Target elements of one im2col chunk (`C·k × tc`).
    public var chunkElements = 1 << 16

    public init() {}

    func buffer(_ w: Int, _ n: Int) -> UnsafeMutablePointer<T> {
        while scratch.count <= w { scratch.append(Tensor(zeros: [0])) }
        scratch[w].resize([n])
        return scratch[w].data
    }

    func chunk(_ g: ConvGeometry, along n: Int) -> Int {
        max(16, min(n, chunkElements / max(1, g.C * g.k)))
    }

    /// col[(c·k + j), t − t0] = signal[c, t·s + j·d − p] for t in t0..<t1.
    @inlinable
    func im2col(_ g: ConvGeometry, _ sig: UnsafePointer<T>, _ t0: Int, _ t1: Int, _ col: UnsafeMutablePointer<T>) {
        let n = t1 - t0
        for c in 0..<g.C {
            let src = sig + c * g.L
            for j in 0..<g.k {
                let row = col + (c * g.k + j) * n
                let a = min(max(g.firstValid(j), t0), t1), b = max(min(g.endValid(j), t1), a)
                for t in t0..<a { row[t - t0] = 0 }
                let off = j * g.d - g.p
                if g.s == 1 {
                    let base = src + off
                    for t in a..<b { row[t - t0] = base[t] }
                } else {
                    for t in a..<b { row[t - t0] = src[t * g.s + off] }
                }
                for t in b..<t1 { row[t - t0] = 0 }
            }
        }
    }

    /// response[b] = A · im2col(signal[b]) for b in 0..<batch (overwrites response).
    public func gather(_ g: ConvGeometry, batch: Int, A: UnsafePointer<T>, signal: UnsafePointer<T>,
                       response: UnsafeMutablePointer<T>) {
        if g.s == 1 { return shiftedGather(g, batch: batch, A: A, signal: signal, response: response) }
        let tc = chunk(g, along: g.T)
        let chunks = (g.T + tc - 1) / tc
        let ck = g.C * g.k
        for w in 0..<min(Parallel.workers, batch * chunks) { _ = buffer(w, ck * tc) }
        let ptrs = UncheckedSendable((A, signal, response))
        BLAS.singleThreaded {
            Parallel.items(batch * chunks) { item, w in
                let (A, signal, response) = ptrs.value
                let b = item / chunks, t0 = (item % chunks) * tc, t1 = min(g.T, t0 + tc)
                let col = self.scratch[w].data
                self.im2col(g, signal + b * g.C * g.L, t0, t1, col)
                T.gemm(transA: false, transB: false, m: g.M, n: t1 - t0, k: ck, alpha: 1, a: A, lda: ck,
                       b: col, ldb: t1 - t0, beta: 0, c: response + b * g.M * g.T + t0, ldc: g.T)
            }
        }
    }

    /// signal[b] += col2im(Aᵀ · response[b]). Work is split by signal range, so each item writes
    /// only its own range; the response columns feeding two neighbouring ranges are multiplied
    /// twice (a margin of about k·d/s columns per chunk).
    public func scatter(_ g: ConvGeometry, batch: Int, A: UnsafePointer<T>, response: UnsafePointer<T>,
                        signal: UnsafeMutablePointer<T>) {
        if g.s == 1 { return shiftedScatter(g, batch: batch, A: A, response: response, signal: signal) }
        let uc = max(16, chunk(g, along: g.L) * g.s)
        let chunks = (g.L + uc - 1) / uc
        let ck = g.C * g.k
        let maxCols = (uc + (g.k - 1) * g.d) / g.s + 2
        for w in 0..<min(Parallel.workers, batch * chunks) { _ = buffer(w, ck * maxCols) }
        let ptrs = UncheckedSendable((A, response, signal))
        BLAS.singleThreaded {
            Parallel.items(batch * chunks) { item, w in
                let (A, response, signal) = ptrs.value
                let b = item / chunks, u0 = (item % chunks) * uc, u1 = min(g.L, u0 + uc)
                let ta = max(0, ceilDiv(u0 + g.p - (g.k - 1) * g.d, g.s))
                let tb = min(g.T, floorDiv(u1 - 1 + g.p, g.s) + 1)
                if tb <= ta { return }
                let n = tb - ta
                let col = self.scratch[w].data
                T.gemm(transA: true, transB: false, m: ck, n: n, k: g.M, alpha: 1, a: A, lda: ck,
                       b: response + b * g.M * g.T + ta, ldb: g.T, beta: 0, c: col, ldc: n)
                let sig = signal + b * g.C * g.L
                for c in 0..<g.C {
                    let dst = sig + c * g.L
                    for j in 0..<g.k {
                        let row = col + (c * g.k + j) * n
                        let off = j * g.d - g.p
                        // t with u = t·s + off in [u0, u1) ∩ [ta, tb)
                        let lo = max(ta, ceilDiv(u0 - off, g.s)), hi = min(tb, ceilDiv(u1 - off, g.s))
                        if hi <= lo { continue }
                        if g.s == 1 {
                            let d = dst + off, r = row - ta
                            for t in lo..<hi { d[t] += r[t] }
                        } else {
                            for t in lo..<hi { dst[t * g.s + off] += row[t - ta] }
                        }
                    }
                }
            }
        }
    }

    /// dA += Σ_b response[b] · im2col(signal[b])ᵀ.
    public func weightGrad(_ g: ConvGeometry, batch: Int, response: UnsafePointer<T>, signal: UnsafePointer<T>,
                           dA: UnsafeMutablePointer<T>) {
        if g.s == 1 { return shiftedWeightGrad(g, batch: batch, response: response, signal: signal, dA: dA) }
        let tc = chunk(g, along: g.T)
        let chunks = (g.T + tc - 1) / tc
        let ck = g.C * g.k
        let items = batch * chunks
        let nw = min(Parallel.workers, items)
        // Worker w uses scratch[w] for its columns and scratch[nw + w] (w ≥ 1) for its partial dA.
        for w in 0..<nw { _ = buffer(w, ck * tc) }
        for w in 1..<max(nw, 1) { _ = buffer(nw + w, g.M * ck); scratch[nw + w].zero() }
        let ptrs = UncheckedSendable((response, signal, dA))
        BLAS.singleThreaded {
            Parallel.items(items, workers: nw) { item, w in
                let (response, signal, dA) = ptrs.value
                let b = item / chunks, t0 = (item % chunks) * tc, t1 = min(g.T, t0 + tc)
                let col = self.scratch[w].data
                self.im2col(g, signal + b * g.C * g.L, t0, t1, col)
                let acc = w == 0 ? dA : self.scratch[nw + w].data
                T.gemm(transA: false, transB: true, m: g.M, n: ck, k: t1 - t0, alpha: 1,
                       a: response + b * g.M * g.T + t0, lda: g.T, b: col, ldb: t1 - t0, beta: 1, c: acc, ldc: ck)
            }
        }
        for w in 1..<max(nw, 1) { Kernels.axpy(g.M * ck, 1, scratch[nw + w].data, dA) }
    }

    // MARK: stride 1 without im2col
    //
    // At stride 1 every tap j is a shifted view of one zero-padded copy of the signal, so each
    // product is k GEMMs with K = C (or M) on pointer offsets into a small cache-resident chunk:
    // no im2col/col2im and no recomputed margins. A is repacked once per call as `[k, M, C]`.

    var packed = Tensor<T>(zeros: [0])

    /// packed[j, m, c] = A[m, c·k + j]
    func pack(_ g: ConvGeometry, _ A: UnsafePointer<T>) -> UnsafeMutablePointer<T> {
        packed.resize([g.k * g.M * g.C])
        let p = packed.data
        for m in 0..<g.M { for c in 0..<g.C { for j in 0..<g.k { p[(j * g.M + m) * g.C + c] = A[m * g.C * g.k + c * g.k + j] } } }
        return p
    }

    /// dst[r, i] = src[r, start + i] for i in 0..<width (zero outside 0..<len), r in 0..<rows.
    @inlinable
    func window(_ src: UnsafePointer<T>, rows: Int, len: Int, start: Int, width: Int, _ dst: UnsafeMutablePointer<T>) {
        let a = min(max(0, -start), width), b = max(a, min(width, len - start))
        for r in 0..<rows {
            let s = src + r * len + start, d = dst + r * width
            for i in 0..<a { d[i] = 0 }
            for i in a..<b { d[i] = s[i] }
            for i in b..<width { d[i] = 0 }
        }
    }

    func shiftedChunk(_ rows: Int) -> Int { max(64, min(4096, (chunkElements * 4) / max(rows, 1))) }

    func shiftedGather(_ g: ConvGeometry, batch: Int, A: UnsafePointer<T>, signal: UnsafePointer<T>,
                       response: UnsafeMutablePointer<T>) {
        let span = (g.k - 1) * g.d
        let tc = min(g.T, shiftedChunk(g.C)), chunks = (g.T + tc - 1) / tc
        for w in 0..<min(Parallel.workers, batch * chunks) { _ = buffer(w, g.C * (tc + span)) }
        let ptrs = UncheckedSendable((pack(g, A), signal, response))
        BLAS.singleThreaded {
            Parallel.items(batch * chunks) { item, w in
                let (Ap, signal, response) = ptrs.value
                let b = item / chunks, t0 = (item % chunks) * tc, n = min(g.T, t0 + tc) - t0
                let width = n + span, win = self.scratch[w].data
                self.window(signal + b * g.C * g.L, rows: g.C, len: g.L, start: t0 - g.p, width: width, win)
                for j in 0..<g.k {
                    T.gemm(transA: false, transB: false, m: g.M, n: n, k: g.C, alpha: 1, a: Ap + j * g.M * g.C, lda: g.C,
                           b: win + j * g.d, ldb: width, beta: j == 0 ? 0 : 1, c: response + b * g.M * g.T + t0, ldc: g.T)
                }
            }
        }
    }

    func shiftedScatter(_ g: ConvGeometry, batch: Int, A: UnsafePointer<T>, response: UnsafePointer<T>,
                        signal: UnsafeMutablePointer<T>) {
        let span = (g.k - 1) * g.d
        let uc = min(g.L, shiftedChunk(g.M)), chunks = (g.L + uc - 1) / uc
        for w in 0..<min(Parallel.workers, batch * chunks) { _ = buffer(w, g.M * (uc + span)) }
        let ptrs = UncheckedSendable((pack(g, A), response, signal))
        BLAS.singleThreaded {
            Parallel.items(batch * chunks) { item, w in
                let (Ap, response, signal) = ptrs.value
                let b = item / chunks, u0 = (item % chunks) * uc, n = min(g.L, u0 + uc) - u0
                let width = n + span, win = self.scratch[w].data
                // win[m, i] = response[m, u0 + p − span + i]; tap j reads it from offset span − j·d.
                self.window(response + b * g.M * g.T, rows: g.M, len: g.T, start: u0 + g.p - span, width: width, win)
                for j in 0..<g.k {
                    T.gemm(transA: true, transB: false, m: g.C, n: n, k: g.M, alpha: 1, a: Ap + j * g.M * g.C, lda: g.C,
                           b: win + span - j * g.d, ldb: width, beta: 1, c: signal + b * g.C * g.L + u0, ldc: g.L)
                }
            }
        }
    }

    func shiftedWeightGrad(_ g: ConvGeometry, batch: Int, response: UnsafePointer<T>, signal: UnsafePointer<T>,
                           dA: UnsafeMutablePointer<T>) {
        let span = (g.k - 1) * g.d
        let tc = min(g.T, shiftedChunk(g.C)), chunks = (g.T + tc - 1) / tc
        let items = batch * chunks, nw = min(Parallel.workers, items)
        let per = g.k * g.M * g.C
        // Worker w: scratch[w] window, scratch[nw + w] its packed-layout partial dA.
        for w in 0..<nw { _ = buffer(w, g.C * (tc + span)); _ = buffer(nw + w, per); scratch[nw + w].zero() }
        let ptrs = UncheckedSendable((response, signal))
        BLAS.singleThreaded {
            Parallel.items(items, workers: nw) { item, w in
                let (response, signal) = ptrs.value
                let b = item / chunks, t0 = (item % chunks) * tc, n = min(g.T, t0 + tc) - t0
                let width = n + span, win = self.scratch[w].data, acc = self.scratch[nw + w].data
                self.window(signal + b * g.C * g.L, rows: g.C, len: g.L, start: t0 - g.p, width: width, win)
                for j in 0..<g.k {
                    T.gemm(transA: false, transB: true, m: g.M, n: g.C, k: n, alpha: 1, a: response + b * g.M * g.T + t0, lda: g.T,
                           b: win + j * g.d, ldb: width, beta: 1, c: acc + j * g.M * g.C, ldc: g.C)
                }
            }
        }
        for w in 0..<nw {
            let acc = scratch[nw + w].data
            for m in 0..<g.M { for c in 0..<g.C { for j in 0..<g.k { dA[m * g.C * g.k + c * g.k + j] += acc[(j * g.M + m) * g.C + c] } } }
        }
    }
}
