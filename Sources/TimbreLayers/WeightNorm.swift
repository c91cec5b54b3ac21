import TimbreTensor

/// A convolution weight, either plain (`weight`) or weight-normalised as PyTorch's
/// `weight_norm(dim=0)` (SPEC §1): `w = g · v / ‖v‖`, the norm over all dims but 0, with
/// `weight_g [shape[0], 1, 1]` and `weight_v` of the weight's shape. At init `v` is drawn like the
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
            g = scope.param("weight_g", [shape[0], 1, 1], .gain, .weightNormGain(of: scope.name("weight_v")))
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
        computed = fixed
        let g = g!.value!, v = v!.value!
        let w = self.w.get(shape)
        norms = [T](repeating: 0, count: rows)
        for o in 0..<rows {
            let vo = v.data + o * perRow
            var s: T = 0
            for i in 0..<perRow { s += vo[i] * vo[i] }
            let n = s.squareRoot()
            norms[o] = n
            let f = g[o] / n
            let wo = w.data + o * perRow
            for i in 0..<perRow { wo[i] = f * vo[i] }
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
        for o in 0..<rows {
            let vo = v.value.data + o * perRow, dwo = dw.data + o * perRow, dvo = v.grad.data + o * perRow
            let n = norms[o], go = g.value[o]
            var dot: T = 0
            for i in 0..<perRow { dot += dwo[i] * vo[i] }
            g.grad[o] += dot / n
            let a = go / n, b = go * dot / (n * n * n)
            for i in 0..<perRow { dvo[i] += a * dwo[i] - b * vo[i] }
        }
    }
}
