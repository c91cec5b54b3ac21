import TimbreTensor

/// Multi-head softmax attention over all tokens of an example, non-causal, with a key-padding
/// mask: the joint attention of the MM-DiT, run on the concatenation of every expert's tokens
/// (docs/design.md §3). QK-norm and RoPE are applied before, by `QKNorm` and `RoPE`.
///
/// Shapes: qkv `[B, N, 3·H·hd]` (last axis `[3, H, hd]`), keyMask `[B·N]` (true = a real token)
/// → o `[B, N, H·hd]` (heads concatenated). Per example b and head h:
/// `S = Q Kᵀ / √hd` (masked keys → −∞), `P = softmax_rows(S)`, `O = P V`.
/// A query whose keys are all masked (an empty example) gets O = 0 and no gradient.
/// Backward: `dV = Pᵀ dO`, `dP = dO Vᵀ`, `dS = P ⊙ (dP − rowsum(dP ⊙ P))`, `dQ = dS K / √hd`,
/// `dK = dSᵀ Q / √hd`. Saves P (`[B, H, N, N]`) when `training`.
public final class JointAttention<T: TensorScalar> {
    public let heads: Int, headDim: Int
    public var training = true
    var qkv: Tensor<T>?
    var mask: [Bool] = []
    var p = Workspace<T>(), o = Workspace<T>(), dqkv = Workspace<T>()
    var scratch: [Tensor<T>] = []

    public init(heads: Int, headDim: Int) { self.heads = heads; self.headDim = headDim }

    var name: String { "JointAttention(\(heads)×\(headDim))" }

    public func forward(_ qkv: Tensor<T>, keyMask: [Bool]? = nil) -> Tensor<T> {
        let (H, hd) = (heads, headDim), w = 3 * H * hd
        precondition(qkv.rank == 3 && qkv.shape[2] == w, "\(name): qkv must be [B, N, \(w)], got \(qkv.shape)")
        let (B, N) = (qkv.shape[0], qkv.shape[1])
        precondition(keyMask == nil || keyMask!.count == B * N, "\(name): key mask has \(keyMask!.count) flags for B·N = \(B * N)")
        self.qkv = qkv
        mask = keyMask ?? [Bool](repeating: true, count: B * N)
        let o = self.o.get([B, N, H * hd])
        // P for every (b, h) when training; otherwise one N×N scratch per worker.
        let items = B * H, nw = min(Parallel.workers, max(items, 1))
        let pAll = training ? self.p.get([B, H, N, N]) : nil
        if !training { ensureScratch(nw, N * N) }
        let scale = 1 / T(hd).squareRoot()
        mask.withUnsafeBufferPointer { mb in
            let ps = (qkv.data, o.data, pAll?.data, mb.baseAddress!)
            BLAS.singleThreaded {
                Parallel.items(items, workers: nw) { item, wk in
                    let (x, o, pAll, m) = ps
                    let b = item / H, h = item % H
                    let P = pAll.map { $0 + item * N * N } ?? self.scratch[wk].data
                    let q = x + b * N * w + h * hd, k = q + H * hd, v = k + H * hd
                    T.gemm(transA: false, transB: true, m: N, n: N, k: hd, alpha: scale, a: q, lda: w, b: k, ldb: w,
                           beta: 0, c: P, ldc: N)
                    softmaxRows(P, rows: N, cols: N, mask: m + b * N)
                    T.gemm(transA: false, transB: false, m: N, n: hd, k: N, alpha: 1, a: P, lda: N, b: v, ldb: w,
                           beta: 0, c: o + b * N * H * hd + h * hd, ldc: H * hd)
                }
            }
        }
        return o
    }

    func ensureScratch(_ n: Int, _ size: Int) {
        while scratch.count < n { scratch.append(Tensor(zeros: [0])) }
        for i in 0..<n { scratch[i].resize([size]) }
    }

    public func backward(_ dO: Tensor<T>) -> Tensor<T> {
        guard training, let qkv, let pAll = p.current else { preconditionFailure("\(name).backward needs a training forward first") }
        let (H, hd) = (heads, headDim), w = 3 * H * hd
        let (B, N) = (qkv.shape[0], qkv.shape[1])
        precondition(dO.shape == [B, N, H * hd], "\(name): dO must be \([B, N, H * hd]), got \(dO.shape)")
        let dqkv = self.dqkv.get(qkv.shape)
        let items = B * H, nw = min(Parallel.workers, max(items, 1))
        ensureScratch(nw, N * N)
        let scale = 1 / T(hd).squareRoot()
        let ps = (qkv.data, dO.data, dqkv.data, pAll.data)
        BLAS.singleThreaded {
            Parallel.items(items, workers: nw) { item, wk in
                let (x, dO, dx, pAll) = ps
                let b = item / H, h = item % H
                let P = pAll + item * N * N, dP = self.scratch[wk].data
                let off = b * N * w + h * hd
                let q = x + off, k = q + H * hd, v = k + H * hd
                let dq = dx + off, dk = dq + H * hd, dv = dk + H * hd
                let g = dO + b * N * H * hd + h * hd
                T.gemm(transA: true, transB: false, m: N, n: hd, k: N, alpha: 1, a: P, lda: N, b: g, ldb: H * hd,
                       beta: 0, c: dv, ldc: w)
                T.gemm(transA: false, transB: true, m: N, n: N, k: hd, alpha: 1, a: g, lda: H * hd, b: v, ldb: w,
                       beta: 0, c: dP, ldc: N)
                for i in 0..<N {
                    let pr = P + i * N, dr = dP + i * N
                    let s = Kernels.rowDot(pr, dr, N)
                    for j in 0..<N { dr[j] = pr[j] * (dr[j] - s) }
                }
                T.gemm(transA: false, transB: false, m: N, n: hd, k: N, alpha: scale, a: dP, lda: N, b: k, ldb: w,
                       beta: 0, c: dq, ldc: w)
                T.gemm(transA: true, transB: false, m: N, n: hd, k: N, alpha: scale, a: dP, lda: N, b: q, ldb: w,
                       beta: 0, c: dk, ldc: w)
            }
        }
        return dqkv
    }
}

/// In-place masked softmax of each row of a `[rows, cols]` matrix; `mask[j]` false → weight 0.
/// A row with no valid column becomes all zeros. Masked entries are first set to −∞-like
/// values so every pass over a row is a plain vectorisable loop.
@inlinable
func softmaxRows<T: TensorScalar>(_ s: UnsafeMutablePointer<T>, rows: Int, cols: Int, mask: UnsafePointer<Bool>) {
    var anyValid = false, allValid = true
    for j in 0..<cols { if mask[j] { anyValid = true } else { allValid = false } }
    if !anyValid {
        s.update(repeating: 0, count: rows * cols)
        return
    }
    let lowest = -T.greatestFiniteMagnitude
    for i in 0..<rows {
        let r = s + i * cols
        if !allValid { for j in 0..<cols where !mask[j] { r[j] = lowest } }
        let mx = Kernels.rowMax(r, cols)
        for j in 0..<cols { r[j] = T.exp(r[j] - mx) }
        if !allValid { for j in 0..<cols where !mask[j] { r[j] = 0 } }  // exactly 0, not e^−87
        let inv = 1 / Kernels.rowSum(r, cols)
        for j in 0..<cols { r[j] *= inv }
    }
}
