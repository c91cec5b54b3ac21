import TimbreTensor

/// A convolution weight, either plain (`weight`) or weight-normalised as PyTorch's
/// `weight_norm(dim=0)` (docs/design.md §1): `w = g · v / ‖v‖`, the norm over all dims but 0, with
/// `weight_g [shape[0], 1, …]` (the weight's rank) and `weight_v` of the weight's shape. At init `v` is drawn like the
/// plain weight and `g = ‖v‖`, so the effective weight equals the plain layer's.
///
/// Backward, per row o with n = ‖v_o‖:  dg_o = ⟨dw_o, v_o⟩ / n,
/// dv_o = (g_o/n)·dw_o − (g_o·⟨dw_o, v_o⟩/n³)·v_o.
public final class ConvWeight<T: TensorScalar> {
    public let shape: [Int]
    public let weight: Param<T>?
    public let g: Param<T>?, v: Param<T>?
    var w = Workspace<T>(), dw = Workspace<T>()
    var norms: [T] = []

    public init(_ scope: ParamScope<T>, shape: [Int], bound: Double, weightNorm: Bool) {
        self.shape = shape
        if weightNorm {
            g = scope.param("weight_g", [shape[0]] + Array(repeating: 1, count: shape.count - 1), .gain, .weightNormGain(of: scope.name("weight_v")))
            v = scope.param("weight_v", shape, .weight, .uniform(bound: bound))
            weight = nil
        } else {
            weight = scope.param("weight", shape, .weight, .uniform(bound: bound))
            g = nil; v = nil
        }
    }

    var rows: Int { shape[0] }
    var perRow: Int { shape.reduce(1, *) / shape[0] }

    /// Set while the weights cannot change (inference): `effective()` computes once, until
    /// this is set again.
    public var fixed = false {
        didSet { computed = false }
    }
    var computed = false

    /// The effective weight (computed into a workspace when weight-normalised).
    public func effective() -> Tensor<T> {
        if let weight { return weight.value }
        if computed, let w = w.current { return w }
        return LayerTimes.time("weight norm forward", flops: 0) { normalised() }
    }

    /// Rows split over the cores, each row's sums vectorised (`Kernels.rowDot`).
    func normalised() -> Tensor<T> {
        computed = fixed
        let g = g!.value!, v = v!.value!
        let w = self.w.get(shape)
        norms = [T](repeating: 0, count: rows)
        let n = perRow
        norms.withUnsafeMutableBufferPointer { nb in
            let ps = (g.data, v.data, w.data, nb.baseAddress!)
            Parallel.range(rows, grain: max(1, Kernels.grain / max(n, 1))) { os in
                let (g, v, w, norms) = ps
                for o in os {
                    let vo = v + o * n, wo = w + o * n
                    let norm = Kernels.rowDot(vo, vo, n).squareRoot()
                    norms[o] = norm
                    let f = g[o] / norm
                    for i in 0..<n { wo[i] = f * vo[i] }
                }
            }
        }
        return w
    }

    /// Where the layer accumulates dL/dw: the parameter's gradient, or a zeroed workspace that
    /// `finishBackward` maps onto g and v.
    public func gradientTarget() -> UnsafeMutablePointer<T> {
        if let weight { return weight.grad.data }
        return dw.get(shape, zero: true).data
    }

    public func finishBackward() {
        guard weight == nil, let g, let v, let dw = dw.current else { return }
        LayerTimes.time("weight norm backward", flops: 0) { normBackward(g, v, dw) }
    }

    func normBackward(_ g: Param<T>, _ v: Param<T>, _ dw: Tensor<T>) {
        let n = perRow
        norms.withUnsafeBufferPointer { nb in
            let ps = (g.value.data, g.grad.data, v.value.data, v.grad.data, dw.data, nb.baseAddress!)
            Parallel.range(rows, grain: max(1, Kernels.grain / max(n, 1))) { os in
                let (gv, gg, vv, vg, dw, norms) = ps
                for o in os {
                    let vo = vv + o * n, dwo = dw + o * n, dvo = vg + o * n
                    let norm = norms[o], go = gv[o]
                    let dot = Kernels.rowDot(dwo, vo, n)
                    gg[o] += dot / norm
                    let a = go / norm, b = go * dot / (norm * norm * norm)
                    for i in 0..<n { dvo[i] += a * dwo[i] - b * vo[i] }
                }
            }
        }
    }
}
