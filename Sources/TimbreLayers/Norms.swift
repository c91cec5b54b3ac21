import TimbreTensor

/// Which rows of a buffer a norm normalises: `outer × inner` rows of `dim` contiguous elements,
/// row (o, i) starting at `base + o·outerStride + i·innerStride`. A plain `[..., dim]` tensor is
/// `inner = 1`; the q part of a fused `[B, N, 3, H, hd]` QKV tensor is outer = B·N (stride 3·H·hd),
/// inner = H (stride hd), base 0 (base H·hd for k).
public struct RowLayout: Sendable {
    public var outer: Int, outerStride: Int, inner: Int, innerStride: Int, base: Int
    public var rows: Int { outer * inner }
    @inlinable public func offset(_ r: Int) -> Int { base + (r / inner) * outerStride + (r % inner) * innerStride }
    public static func contiguous(rows: Int, dim: Int) -> RowLayout {
        RowLayout(outer: rows, outerStride: dim, inner: 1, innerStride: dim, base: 0)
    }
}

/// RMS normalisation kernels: `y = x / √(mean(x²) + eps) ⊙ w` per row.
/// Backward with r = 1/√(mean(x²)+eps), x̂ = x·r, g = dy ⊙ w:
/// `dx = r·(g − x̂·mean(g ⊙ x̂))`, `dw += Σ_rows dy ⊙ x̂`.
public enum RMSKernel {
    @inlinable
    public static func forward<T: TensorScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ rstd: UnsafeMutablePointer<T>,
                                                _ L: RowLayout, dim: Int, weight: UnsafePointer<T>?, eps: T) {
        let ps = (x, y, rstd, weight)
        Parallel.range(L.rows, grain: max(1, Kernels.grain / max(dim, 1))) { r in
            let (x, y, rstd, w) = ps
            for row in r {
                let o = L.offset(row), xr = x + o, yr = y + o
                var s: T = 0
                for j in 0..<dim { s += xr[j] * xr[j] }
                let rs = 1 / (s / T(dim) + eps).squareRoot()
                rstd[row] = rs
                if let w { for j in 0..<dim { yr[j] = xr[j] * rs * w[j] } } else { for j in 0..<dim { yr[j] = xr[j] * rs } }
            }
        }
    }

    @inlinable
    public static func backward<T: TensorScalar>(_ x: UnsafePointer<T>, _ dy: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>,
                                                 _ rstd: UnsafePointer<T>, _ L: RowLayout, dim: Int,
                                                 weight: UnsafePointer<T>?, dweight: UnsafeMutablePointer<T>?) {
        let ps = (x, dy, dx, rstd, weight)
        Parallel.range(L.rows, grain: max(1, Kernels.grain / max(dim, 1))) { r in
            let (x, dy, dx, rstd, w) = ps
            for row in r {
                let o = L.offset(row), xr = x + o, dyr = dy + o, dxr = dx + o, rs = rstd[row]
                var m: T = 0
                if let w { for j in 0..<dim { m += dyr[j] * w[j] * xr[j] } } else { for j in 0..<dim { m += dyr[j] * xr[j] } }
                m *= rs / T(dim)  // mean(g ⊙ x̂)
                let c = m * rs
                if let w { for j in 0..<dim { dxr[j] = rs * (dyr[j] * w[j] - xr[j] * c) } }
                else { for j in 0..<dim { dxr[j] = rs * (dyr[j] - xr[j] * c) } }
            }
        }
        if let dw = dweight {
            for row in 0..<L.rows {
                let o = L.offset(row), xr = x + o, dyr = dy + o, rs = rstd[row]
                for j in 0..<dim { dw[j] += dyr[j] * xr[j] * rs }
            }
        }
    }
}

/// RMSNorm over the last axis: `y = x / √(mean(x²) + eps) ⊙ weight`.
///
/// Shapes: x `[..., dim]` → y same; `weight [dim]` (init 1) when `weight: true`; without a weight
/// it is the plain normalisation the MM-DiT block uses (docs/design.md §3, eps 1e-6).
public final class RMSNorm<T: TensorScalar> {
    public let dim: Int
    public let eps: T
    public let weight: Param<T>?
    var x: Tensor<T>?
    var y = Workspace<T>(), dx = Workspace<T>(), rstd = Workspace<T>()

    public init(_ scope: ParamScope<T>?, _ dim: Int, weight: Bool, eps: Double = 1e-6) {
        precondition(!weight || scope != nil, "RMSNorm: a weighted norm needs a parameter scope")
        self.dim = dim; self.eps = T(eps)
        self.weight = weight ? scope!.param("weight", [dim], .norm, .constant(1)) : nil
    }

    public func forward(_ x: Tensor<T>) -> Tensor<T> {
        precondition(x.rank >= 1 && x.shape.last == dim, "RMSNorm(\(dim)): x must be [..., \(dim)], got \(x.shape)")
        self.x = x
        let L = RowLayout.contiguous(rows: x.count / dim, dim: dim)
        let y = self.y.get(x.shape), rstd = self.rstd.get([L.rows])
        RMSKernel.forward(x.data, y.data, rstd.data, L, dim: dim, weight: weight?.value.data, eps: eps)
        return y
    }

    public func backward(_ dy: Tensor<T>) -> Tensor<T> {
        guard let x, let rstd = rstd.current else { preconditionFailure("RMSNorm.backward before forward") }
        ShapeCheck.same("RMSNorm", "dy", dy, "x", x)
        let dx = self.dx.get(x.shape)
        RMSKernel.backward(x.data, dy.data, dx.data, rstd.data, .contiguous(rows: x.count / dim, dim: dim), dim: dim,
                           weight: weight?.value.data, dweight: weight?.grad.data)
        return dx
    }
}

/// Per-head QK-norm on a fused QKV tensor (docs/design.md §3): RMSNorm of every head's q and k, with
/// weights `q_norm.weight [hd]` and `k_norm.weight [hd]` (init 1), eps 1e-6; v passes through.
///
/// Shapes: qkv `[B, N, 3·H·hd]` (last axis laid out `[3, H, hd]`) → same.
public final class QKNorm<T: TensorScalar> {
    public let heads: Int, headDim: Int
    public let eps: T
    public let qWeight: Param<T>, kWeight: Param<T>
    var x: Tensor<T>?
    var y = Workspace<T>(), dx = Workspace<T>(), rstd = Workspace<T>()

    public init(_ scope: ParamScope<T>, heads: Int, headDim: Int, eps: Double = 1e-6) {
        self.heads = heads; self.headDim = headDim; self.eps = T(eps)
        qWeight = scope.child("q_norm").param("weight", [headDim], .norm, .constant(1))
        kWeight = scope.child("k_norm").param("weight", [headDim], .norm, .constant(1))
    }

    func layout(_ tokens: Int, part: Int) -> RowLayout {
        RowLayout(outer: tokens, outerStride: 3 * heads * headDim, inner: heads, innerStride: headDim, base: part * heads * headDim)
    }

    public func forward(_ x: Tensor<T>) -> Tensor<T> {
        let w = 3 * heads * headDim
        precondition(x.rank == 3 && x.shape[2] == w, "QKNorm(\(heads)×\(headDim)): qkv must be [B, N, \(w)], got \(x.shape)")
        self.x = x
        let tokens = x.shape[0] * x.shape[1]
        let y = self.y.get(x.shape), rstd = self.rstd.get([2, tokens * heads])
        y.copy(from: x)  // v (and q, k, overwritten below)
        RMSKernel.forward(x.data, y.data, rstd.data, layout(tokens, part: 0), dim: headDim, weight: qWeight.value.data, eps: eps)
        RMSKernel.forward(x.data, y.data, rstd.data + tokens * heads, layout(tokens, part: 1), dim: headDim,
                          weight: kWeight.value.data, eps: eps)
        return y
    }

    public func backward(_ dy: Tensor<T>) -> Tensor<T> {
        guard let x, let rstd = rstd.current else { preconditionFailure("QKNorm.backward before forward") }
        ShapeCheck.same("QKNorm", "dy", dy, "qkv", x)
        let tokens = x.shape[0] * x.shape[1]
        let dx = self.dx.get(x.shape)
        dx.copy(from: dy)
        RMSKernel.backward(x.data, dy.data, dx.data, rstd.data, layout(tokens, part: 0), dim: headDim,
                           weight: qWeight.value.data, dweight: qWeight.grad.data)
        RMSKernel.backward(x.data, dy.data, dx.data, rstd.data + tokens * heads, layout(tokens, part: 1), dim: headDim,
                           weight: kWeight.value.data, dweight: kWeight.grad.data)
        return dx
    }
}

/// LayerNorm over the last axis: `y = (x − mean)/√(var + eps) ⊙ weight + bias` (biased
/// variance, as PyTorch). Shapes: x `[..., dim]`; `weight [dim]` (init 1), `bias [dim]` (init 0)
/// when `affine`. The MM-DiT output layer uses it without affine, eps 1e-6.
/// Backward with x̂ = (x − μ)·r, g = dy ⊙ w: `dx = r·(g − mean(g) − x̂·mean(g ⊙ x̂))`.
public final class LayerNorm<T: TensorScalar> {
    public let dim: Int
    public let eps: T
    public let weight: Param<T>?, bias: Param<T>?
    var x: Tensor<T>?
    var y = Workspace<T>(), dx = Workspace<T>(), stats = Workspace<T>()

    public init(_ scope: ParamScope<T>?, _ dim: Int, affine: Bool, eps: Double = 1e-5) {
        precondition(!affine || scope != nil, "LayerNorm: an affine norm needs a parameter scope")
        self.dim = dim; self.eps = T(eps)
        weight = affine ? scope!.param("weight", [dim], .norm, .constant(1)) : nil
        bias = affine ? scope!.param("bias", [dim], .norm, .zeros) : nil
    }

    public func forward(_ x: Tensor<T>) -> Tensor<T> {
        precondition(x.rank >= 1 && x.shape.last == dim, "LayerNorm(\(dim)): x must be [..., \(dim)], got \(x.shape)")
        self.x = x
        let rows = x.count / dim
        let y = self.y.get(x.shape), st = self.stats.get([rows, 2])
        let ps = (x.data, y.data, st.data, weight?.value.data, bias?.value.data)
        let d = dim, eps = eps
        Parallel.range(rows, grain: max(1, Kernels.grain / max(dim, 1))) { r in
            let (x, y, st, w, b) = ps
            for row in r {
                let xr = x + row * d, yr = y + row * d
                var m: T = 0
                for j in 0..<d { m += xr[j] }
                m /= T(d)
                var v: T = 0
                for j in 0..<d { let c = xr[j] - m; v += c * c }
                let rs = 1 / (v / T(d) + eps).squareRoot()
                st[2 * row] = m; st[2 * row + 1] = rs
                if let w, let b { for j in 0..<d { yr[j] = (xr[j] - m) * rs * w[j] + b[j] } }
                else { for j in 0..<d { yr[j] = (xr[j] - m) * rs } }
            }
        }
        return y
    }

    public func backward(_ dy: Tensor<T>) -> Tensor<T> {
        guard let x, let st = stats.current else { preconditionFailure("LayerNorm.backward before forward") }
        ShapeCheck.same("LayerNorm", "dy", dy, "x", x)
        let rows = x.count / dim, d = dim
        let dx = self.dx.get(x.shape)
        let ps = (x.data, dy.data, dx.data, st.data, weight?.value.data)
        Parallel.range(rows, grain: max(1, Kernels.grain / max(dim, 1))) { r in
            let (x, dy, dx, st, w) = ps
            for row in r {
                let xr = x + row * d, dyr = dy + row * d, dxr = dx + row * d
                let m = st[2 * row], rs = st[2 * row + 1]
                var mg: T = 0, mgx: T = 0
                for j in 0..<d {
                    let g = w.map { dyr[j] * $0[j] } ?? dyr[j]
                    mg += g; mgx += g * (xr[j] - m) * rs
                }
                mg /= T(d); mgx /= T(d)
                for j in 0..<d {
                    let g = w.map { dyr[j] * $0[j] } ?? dyr[j]
                    dxr[j] = rs * (g - mg - (xr[j] - m) * rs * mgx)
                }
            }
        }
        if let weight, let bias {
            for row in 0..<rows {
                let xr = x.data + row * d, dyr = dy.data + row * d
                let m = st[2 * row], rs = st[2 * row + 1]
                for j in 0..<d {
                    weight.grad[j] += dyr[j] * (xr[j] - m) * rs
                    bias.grad[j] += dyr[j]
                }
            }
        }
        return dx
    }
}
