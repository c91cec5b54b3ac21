import TimbreTensor

/// adaLN modulation `y = x ⊙ (1 + scale) + shift`, one scale/shift vector per example
/// (broadcast over its tokens). Shapes: x `[B, N, D]`, scale `[B, D]`, shift `[B, D]` or absent
/// (the MM-DiT block modulates without shift) → y `[B, N, D]`.
/// Backward: `dx = dy ⊙ (1 + scale)`, `dscale = Σ_n dy ⊙ x`, `dshift = Σ_n dy`.
public final class Modulate<T: TensorScalar> {
    var x: Tensor<T>?, scale: Tensor<T>?
    var hasShift = false
    var y = Workspace<T>(), dx = Workspace<T>(), dscale = Workspace<T>(), dshift = Workspace<T>()
    public init() {}

    public func forward(_ x: Tensor<T>, scale: Tensor<T>, shift: Tensor<T>? = nil) -> Tensor<T> {
        precondition(x.rank == 3, "Modulate: x must be [B, N, D], got \(x.shape)")
        let (B, N, D) = (x.shape[0], x.shape[1], x.shape[2])
        precondition(scale.shape == [B, D] && (shift == nil || shift!.shape == [B, D]),
                     "Modulate: scale \(scale.shape) and shift \(shift?.shape ?? []) must be [\(B), \(D)] for x \(x.shape)")
        self.x = x; self.scale = scale; hasShift = shift != nil
        let y = self.y.get(x.shape)
        for b in 0..<B {
            let sc = scale.data + b * D, sh = shift.map { $0.data + b * D }
            for n in 0..<N {
                let xr = x.data + (b * N + n) * D, yr = y.data + (b * N + n) * D
                if let sh { for j in 0..<D { yr[j] = xr[j] * (1 + sc[j]) + sh[j] } } else { for j in 0..<D { yr[j] = xr[j] * (1 + sc[j]) } }
            }
        }
        return y
    }

    /// Returns (dx, dscale, dshift); dshift is nil when the forward had no shift.
    public func backward(_ dy: Tensor<T>) -> (dx: Tensor<T>, dscale: Tensor<T>, dshift: Tensor<T>?) {
        guard let x, let scale else { preconditionFailure("Modulate.backward before forward") }
        ShapeCheck.same("Modulate", "dy", dy, "x", x)
        let (B, N, D) = (x.shape[0], x.shape[1], x.shape[2])
        let dx = self.dx.get(x.shape), ds = dscale.get([B, D], zero: true)
        let dsh = hasShift ? dshift.get([B, D], zero: true) : nil
        for b in 0..<B {
            let sc = scale.data + b * D, dsc = ds.data + b * D
            for n in 0..<N {
                let r = (b * N + n) * D
                let xr = x.data + r, dyr = dy.data + r, dxr = dx.data + r
                for j in 0..<D { dxr[j] = dyr[j] * (1 + sc[j]); dsc[j] += dyr[j] * xr[j] }
                if let dsh { let d = dsh.data + b * D; for j in 0..<D { d[j] += dyr[j] } }
            }
        }
        return (dx, ds, dsh)
    }
}

/// Tanh-gated residual `y = x + tanh(gate) ⊙ f`, one gate vector per example.
/// Shapes: x, f `[B, N, D]`, gate `[B, D]` → y `[B, N, D]`.
/// Backward: `dx = dy`, `df = dy ⊙ tanh(gate)`, `dgate = (1 − tanh²(gate)) ⊙ Σ_n dy ⊙ f`.
public final class TanhGate<T: TensorScalar> {
    var f: Tensor<T>?, gate: Tensor<T>?
    var y = Workspace<T>(), df = Workspace<T>(), dgate = Workspace<T>()
    public init() {}

    public func forward(_ x: Tensor<T>, _ f: Tensor<T>, gate: Tensor<T>) -> Tensor<T> {
        ShapeCheck.same("TanhGate", "x", x, "f", f)
        precondition(x.rank == 3 && gate.shape == [x.shape[0], x.shape[2]],
                     "TanhGate: gate must be [B, D] = \([x.shape[0], x.shape.last ?? 0]) for x \(x.shape), got \(gate.shape)")
        self.f = f; self.gate = gate
        let (B, N, D) = (x.shape[0], x.shape[1], x.shape[2])
        let y = self.y.get(x.shape)
        var th = [T](repeating: 0, count: D)
        for b in 0..<B {
            for j in 0..<D { th[j] = T.tanh(gate[b * D + j]) }
            for n in 0..<N {
                let r = (b * N + n) * D
                let xr = x.data + r, fr = f.data + r, yr = y.data + r
                for j in 0..<D { yr[j] = xr[j] + th[j] * fr[j] }
            }
        }
        return y
    }

    /// Returns (dx, df, dgate); dx is `dy` itself.
    public func backward(_ dy: Tensor<T>) -> (dx: Tensor<T>, df: Tensor<T>, dgate: Tensor<T>) {
        guard let f, let gate else { preconditionFailure("TanhGate.backward before forward") }
        ShapeCheck.same("TanhGate", "dy", dy, "f", f)
        let (B, N, D) = (f.shape[0], f.shape[1], f.shape[2])
        let df = self.df.get(f.shape), dg = dgate.get([B, D], zero: true)
        var th = [T](repeating: 0, count: D)
        for b in 0..<B {
            for j in 0..<D { th[j] = T.tanh(gate[b * D + j]) }
            let dgr = dg.data + b * D
            for n in 0..<N {
                let r = (b * N + n) * D
                let dyr = dy.data + r, fr = f.data + r, dfr = df.data + r
                for j in 0..<D { dfr[j] = dyr[j] * th[j]; dgr[j] += dyr[j] * fr[j] }
            }
            for j in 0..<D { dgr[j] *= 1 - th[j] * th[j] }
        }
        return (dy, df, dg)
    }
}

/// Sinusoidal timestep embedding (DiT/Mochi layout, docs/design.md §3):
/// `e(t) = [cos(s·t·f_j), sin(s·t·f_j)]`, `f_j = exp(−ln(maxPeriod)·j/(dim/2))`, j = 0…dim/2−1,
/// with s = 1000. Shapes: t `[B]` → `[B, dim]`. No parameters; backward gives dt (for the check).
public final class TimestepEmbedding<T: TensorScalar> {
    public let dim: Int, scale: Double, maxPeriod: Double
    var t: Tensor<T>?
    var y = Workspace<T>(), dt = Workspace<T>()

    public init(dim: Int = 256, scale: Double = 1000, maxPeriod: Double = 10000) {
        precondition(dim % 2 == 0, "TimestepEmbedding: dim \(dim) must be even")
        self.dim = dim; self.scale = scale; self.maxPeriod = maxPeriod
    }

    func freq(_ j: Int) -> Double { Double.exp(-Double.log(maxPeriod) * Double(j) / Double(dim / 2)) }

    public func forward(_ t: Tensor<T>) -> Tensor<T> {
        precondition(t.rank == 1, "TimestepEmbedding: t must be [B], got \(t.shape)")
        self.t = t
        let h = dim / 2
        let y = self.y.get([t.count, dim])
        for b in 0..<t.count {
            for j in 0..<h {
                let a = scale * Double(t[b]) * freq(j)
                y[b * dim + j] = T(Double.cos(a)); y[b * dim + h + j] = T(Double.sin(a))
            }
        }
        return y
    }

    public func backward(_ dy: Tensor<T>) -> Tensor<T> {
        guard let t else { preconditionFailure("TimestepEmbedding.backward before forward") }
        precondition(dy.shape == [t.count, dim], "TimestepEmbedding: dy must be \([t.count, dim]), got \(dy.shape)")
        let h = dim / 2
        let dt = self.dt.get([t.count])
        for b in 0..<t.count {
            var s: Double = 0
            for j in 0..<h {
                let f = freq(j), a = scale * Double(t[b]) * f
                s += scale * f * (-Double.sin(a) * Double(dy[b * dim + j]) + Double.cos(a) * Double(dy[b * dim + h + j]))
            }
            dt[b] = T(s)
        }
        return dt
    }
}

/// Mean over the valid tokens of each example: `y[b] = Σ_{n valid} x[b, n] / count_b`
/// (0 when the example has no valid token). Shapes: x `[B, N, D]`, mask `[B·N]` → y `[B, D]`.
/// Backward: `dx[b, n] = dy[b] / count_b` for valid tokens, 0 otherwise.
public final class MaskedMeanPool<T: TensorScalar> {
    var shape: [Int] = []
    var mask: [Bool] = []
    var y = Workspace<T>(), dx = Workspace<T>()
    public init() {}

    public func forward(_ x: Tensor<T>, mask: [Bool]) -> Tensor<T> {
        precondition(x.rank == 3 && mask.count == x.shape[0] * x.shape[1],
                     "MaskedMeanPool: x must be [B, N, D] with B·N mask flags, got x \(x.shape) and \(mask.count) flags")
        shape = x.shape; self.mask = mask
        let (B, N, D) = (x.shape[0], x.shape[1], x.shape[2])
        let y = self.y.get([B, D], zero: true)
        for b in 0..<B {
            let valid = (0..<N).filter { mask[b * N + $0] }
            if valid.isEmpty { continue }
            let inv = 1 / T(valid.count), yr = y.data + b * D
            for n in valid { let xr = x.data + (b * N + n) * D; for j in 0..<D { yr[j] += xr[j] * inv } }
        }
        return y
    }

    public func backward(_ dy: Tensor<T>) -> Tensor<T> {
        let (B, N, D) = (shape[0], shape[1], shape[2])
        precondition(dy.shape == [B, D], "MaskedMeanPool: dy must be \([B, D]), got \(dy.shape)")
        let dx = self.dx.get(shape, zero: true)
        for b in 0..<B {
            let valid = (0..<N).filter { mask[b * N + $0] }
            if valid.isEmpty { continue }
            let inv = 1 / T(valid.count), dyr = dy.data + b * D
            for n in valid { let d = dx.data + (b * N + n) * D; for j in 0..<D { d[j] = dyr[j] * inv } }
        }
        return dx
    }
}
