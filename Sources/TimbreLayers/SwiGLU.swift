import TimbreTensor

/// SwiGLU feed-forward (docs/design.md §3): `f = W2 · (SiLU(W1·h) ⊙ (W3·h))`, no biases.
///
/// Shapes: h `[..., d]` → f `[..., d]`; `w1.weight [hidden, d]`, `w3.weight [hidden, d]`,
/// `w2.weight [d, hidden]`. W1 and W3 are registered back to back, so they are one contiguous
/// `[2·hidden, d]` block of the flat buffer and run as a single GEMM (and a single weight-gradient
/// GEMM) without being fused in the checkpoint.
public final class SwiGLU<T: TensorScalar> {
    public let dim: Int, hidden: Int
    public let w1: Param<T>, w3: Param<T>
    public let w2: Linear<T>
    var x: Tensor<T>?
    var u = Workspace<T>(), g = Workspace<T>(), du = Workspace<T>(), dx = Workspace<T>()

    public init(_ scope: ParamScope<T>, dim: Int, hidden: Int) {
        self.dim = dim; self.hidden = hidden
        let bound = 1 / Double(dim).squareRoot()
        w1 = scope.child("w1").param("weight", [hidden, dim], .weight, .uniform(bound: bound))
        w3 = scope.child("w3").param("weight", [hidden, dim], .weight, .uniform(bound: bound))
        precondition(w3.offset == w1.offset + w1.count, "SwiGLU: w1 and w3 must be registered consecutively")
        w2 = Linear(scope.child("w2"), hidden, dim, bias: false)
    }

    public func forward(_ x: Tensor<T>) -> Tensor<T> {
        precondition(x.rank >= 1 && x.shape.last == dim, "SwiGLU(\(dim)→\(hidden)): h must be [..., \(dim)], got \(x.shape)")
        self.x = x
        let rows = x.count / dim, h2 = 2 * hidden
        let u = self.u.get([rows, h2])
        Matmul.timesTransposed(rows: rows, n: h2, k: dim, a: x.data, b: w1.value.data, c: u.data)
        let g = self.g.get(Array(x.shape.dropLast()) + [hidden])
        let ps = (u.data, g.data)
        let hd = hidden
        Parallel.range(rows, grain: max(1, Kernels.grain / max(hd, 1))) { r in
            let (u, g) = ps
            for row in r {
                let a = u + row * 2 * hd, b = a + hd, gr = g + row * hd
                for j in 0..<hd { gr[j] = a[j] * T.sigmoid(a[j]) * b[j] }
            }
        }
        return w2.forward(g)
    }

    public func backward(_ df: Tensor<T>) -> Tensor<T> {
        guard let x, let u = u.current else { preconditionFailure("SwiGLU.backward before forward") }
        let dg = w2.backward(df)
        let rows = x.count / dim, h2 = 2 * hidden, hd = hidden
        let du = self.du.get([rows, h2])
        let ps = (u.data, dg.data, du.data)
        Parallel.range(rows, grain: max(1, Kernels.grain / max(hd, 1))) { r in
            let (u, dg, du) = ps
            for row in r {
                let a = u + row * 2 * hd, b = a + hd, dgr = dg + row * hd, da = du + row * 2 * hd, db = da + hd
                for j in 0..<hd {
                    let s = T.sigmoid(a[j]), silu = a[j] * s
                    db[j] = dgr[j] * silu
                    da[j] = dgr[j] * b[j] * s * (1 + a[j] * (1 - s))
                }
            }
        }
        T.gemm(transA: true, transB: false, m: h2, n: dim, k: rows, alpha: 1, a: du.data, lda: h2,
               b: x.data, ldb: dim, beta: 1, c: w1.grad.data, ldc: dim)
        let dx = self.dx.get(x.shape)
        T.gemm(transA: false, transB: false, m: rows, n: dim, k: h2, alpha: 1, a: du.data, lda: h2,
               b: w1.value.data, ldb: dim, beta: 0, c: dx.data, ldc: dim)
        return dx
    }
}

/// Token embedding: `y[b, n] = weight[ids[b, n]]`.
///
/// Shapes: ids `[B·N]` (given with the shape `[B, N]`) → y `[B, N, dim]`; `weight [vocab, dim]`,
/// init N(0, 0.02²). Backward scatter-adds `dy` rows into the table's gradient (ids are discrete:
/// there is no input gradient).
public final class Embedding<T: TensorScalar> {
    public let vocab: Int, dim: Int
    public let weight: Param<T>
    var ids: [Int] = []
    var y = Workspace<T>()

    public init(_ scope: ParamScope<T>, vocab: Int, dim: Int, std: Double = 0.02) {
        self.vocab = vocab; self.dim = dim
        weight = scope.param("weight", [vocab, dim], .embedding, .normal(std: std))
    }

    public func forward(_ ids: [Int], shape: [Int]) -> Tensor<T> {
        precondition(shape.reduce(1, *) == ids.count, "Embedding: \(ids.count) ids do not fill shape \(shape)")
        if let bad = ids.first(where: { $0 < 0 || $0 >= vocab }) {
            preconditionFailure("Embedding(\(vocab)×\(dim)): id \(bad) out of range 0..<\(vocab)")
        }
        self.ids = ids
        let y = self.y.get(shape + [dim])
        for (n, id) in ids.enumerated() { (y.data + n * dim).update(from: weight.value.data + id * dim, count: dim) }
        return y
    }

    public func backward(_ dy: Tensor<T>) {
        precondition(dy.count == ids.count * dim, "Embedding: dy must hold \(ids.count)×\(dim) values, got \(dy.shape)")
        for (n, id) in ids.enumerated() {
            let g = weight.grad.data + id * dim, d = dy.data + n * dim
            for j in 0..<dim { g[j] += d[j] }
        }
    }
}
