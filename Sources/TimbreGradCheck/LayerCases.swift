import TimbreLayers
import TimbreTensor

/// The table of layer gradient tests: one row per layer configuration, each with its tolerance
/// and the reason for it. Shapes are small and deliberately odd (length 1, non-powers of two,
/// strides that do not divide the length, fully masked attention rows); every parameter is
/// randomised. `swift test` runs every row, and so does `timbre selfcheck`.
public enum LayerCases {
    static func input(_ shape: [Int], seed: UInt64, std: Double = 1) -> Tensor<Double> {
        let t = Tensor<Double>(zeros: shape)
        var rng = RandomStream(seed: seed, 17)
        rng.fillNormal(t, std: std)
        return t
    }

    /// A case over a layer with one input and one output.
    static func unary(_ name: String, _ shape: [Int], tolerance: Double = 1e-6, why: String? = nil, std: Double = 1,
                      build: (ParamScope<Double>) -> (forward: (Tensor<Double>) -> Tensor<Double>, backward: (Tensor<Double>) -> Tensor<Double>)) -> GradCase {
        let store = ParameterStore<Double>()
        let (f, b) = build(store.root)
        store.finalize(seed: 3)
        store.randomise(seed: fnv1a(name))
        let x = input(shape, seed: fnv1a(name), std: std)
        return GradCase(name, tolerance: tolerance, why: why ?? "smooth op, Float64 central differences", store: store,
                        inputs: [("x", x)], forward: { f(x) }, backward: { [b($0)] })
    }

    public static var all: [GradCase] {
        var cases: [GradCase] = []
        // Linear
        cases.append(unary("Linear 5→3 bias", [2, 3, 5]) { s in let l = Linear(s, 5, 3); return (l.forward, l.backward) })
        cases.append(unary("Linear 4→7 no bias, 1 row", [1, 1, 4]) { s in let l = Linear(s, 4, 7, bias: false); return (l.forward, l.backward) })
        // Conv1d
        cases.append(unary("Conv1d 3→4 k3 p1", [2, 3, 11]) { s in let l = Conv1d(s, 3, 4, kernel: 3, padding: 1); return ({ l.forward($0) }, l.backward) })
        cases.append(unary("Conv1d 2→3 k5 s2 p2 T9", [2, 2, 9]) { s in let l = Conv1d(s, 2, 3, kernel: 5, stride: 2, padding: 2); return ({ l.forward($0) }, l.backward) })
        cases.append(unary("Conv1d 3→3 k3 d3 same, no bias", [1, 3, 7]) { s in
            let l = Conv1d(s, 3, 3, kernel: 3, dilation: 3, padding: 3, bias: false); return ({ l.forward($0) }, l.backward) })
        cases.append(unary("Conv1d WN 2→3 k7 d9 same", [2, 2, 13]) { s in
            let l = Conv1d(s, 2, 3, kernel: 7, dilation: 9, padding: 27, weightNorm: true); return ({ l.forward($0) }, l.backward) })
        cases.append(unary("Conv1d WN 3→5 k4 s2 p1 T8", [2, 3, 8]) { s in
            let l = Conv1d(s, 3, 5, kernel: 4, stride: 2, padding: 1, weightNorm: true); return ({ l.forward($0) }, l.backward) })
        cases.append(unary("Conv1d 4→2 k1, length 1", [3, 4, 1]) { s in let l = Conv1d(s, 4, 2, kernel: 1); return ({ l.forward($0) }, l.backward) })
        // ConvTranspose1d
        cases.append(unary("ConvT WN 4→3 k4 s2 p1", [2, 4, 5]) { s in
            let l = ConvTranspose1d(s, 4, 3, kernel: 4, stride: 2, padding: 1, weightNorm: true); return ({ l.forward($0) }, l.backward) })
        cases.append(unary("ConvT 2→3 k3 s3 op1", [2, 2, 4]) { s in
            let l = ConvTranspose1d(s, 2, 3, kernel: 3, stride: 3, outputPadding: 1); return ({ l.forward($0) }, l.backward) })
        cases.append(unary("ConvT 3→2 k3 d2 p2, no bias", [1, 3, 6]) { s in
            let l = ConvTranspose1d(s, 3, 2, kernel: 3, dilation: 2, padding: 2, bias: false); return ({ l.forward($0) }, l.backward) })
        cases.append(unary("ConvT 3→2 k6 s3 p2, length 1", [2, 3, 1]) { s in
            let l = ConvTranspose1d(s, 3, 2, kernel: 6, stride: 3, padding: 2); return ({ l.forward($0) }, l.backward) })
        // Nearest upsampling + 'same' convolution (a decoder's `upsample: nearest`)
        cases.append(unary("Nearest×3 + Conv1d WN 3→2 k6 same", [2, 3, 4]) { s in
            let l = NearestUpsampleConv(s, 3, 2, stride: 3, weightNorm: true); return ({ l.forward($0) }, l.backward) })
        cases.append(unary("Nearest×2 + Conv1d 2→3 k4 same, length 1", [1, 2, 1]) { s in
            let l = NearestUpsampleConv(s, 2, 3, stride: 2, weightNorm: false); return ({ l.forward($0) }, l.backward) })
        // Sinc interpolation + 'same' convolution (`upsample: sinc`); 20 input samples, so the
        // 16-tap interpolation has both edges and a full interior
        cases.append(unary("Sinc×3 + Conv1d WN 3→2 k6 same", [2, 3, 20]) { s in
            let l = NearestUpsampleConv(s, 3, 2, stride: 3, weightNorm: true, interpolation: .sinc); return ({ l.forward($0) }, l.backward) })
        cases.append(unary("Sinc×2 + Conv1d 2→3 k4 same, length 1", [1, 2, 1]) { s in
            let l = NearestUpsampleConv(s, 2, 3, stride: 2, weightNorm: false, interpolation: .sinc); return ({ l.forward($0) }, l.backward) })
        // Conv2d (the discriminator's): dilation in rows, stride in columns, padding on both
        cases.append(unary("Conv2d 2→3 k(3,5) s(1,2) d(2,1) p(2,2)", [2, 2, 5, 9]) { s in
            let l = Conv2d(s, 2, 3, kernel: (3, 5), stride: (1, 2), dilation: (2, 1), padding: (2, 2)); return (l.forward, l.backward) })
        cases.append(unary("Conv2d WN 3→2 k(3,3) p(1,1), no bias", [1, 3, 4, 6]) { s in
            let l = Conv2d(s, 3, 2, kernel: (3, 3), padding: (1, 1), bias: false, weightNorm: true); return (l.forward, l.backward) })
        cases.append(unary("Conv2d 2→2 k(2,4) s(2,3), 1×1 output", [2, 2, 2, 4]) { s in
            let l = Conv2d(s, 2, 2, kernel: (2, 4), stride: (2, 3)); return (l.forward, l.backward) })
        // Activations
        cases.append(unary("SnakeBeta 3", [2, 3, 7]) { s in let l = SnakeBeta(s, 3); return (l.forward, { l.backward($0) }) })
        cases.append(unary("SiLU", [3, 7], std: 3) { _ in let l = SiLU<Double>(); return (l.forward, l.backward) })
        cases.append(unary("Softplus", [3, 7], std: 4) { _ in let l = Softplus<Double>(); return (l.forward, l.backward) })
        cases.append(unary("LeakyReLU", [3, 7]) { _ in let l = LeakyReLU<Double>(); return (l.forward, l.backward) })
        // Norms
        cases.append(unary("RMSNorm 6 weight", [2, 3, 6]) { s in let l = RMSNorm(s, 6, weight: true); return (l.forward, l.backward) })
        cases.append(unary("RMSNorm 5 no weight", [4, 5]) { s in let l = RMSNorm<Double>(nil, 5, weight: false); return (l.forward, l.backward) })
        cases.append(unary("QKNorm 2 heads × 4", [2, 3, 24]) { s in let l = QKNorm(s, heads: 2, headDim: 4); return (l.forward, l.backward) })
        cases.append(unary("LayerNorm 5 affine", [3, 5]) { s in let l = LayerNorm(s, 5, affine: true); return (l.forward, l.backward) })
        cases.append(unary("LayerNorm 7 no affine eps1e-6", [2, 2, 7]) { s in let l = LayerNorm<Double>(nil, 7, affine: false, eps: 1e-6); return (l.forward, l.backward) })
        // SwiGLU
        cases.append(unary("SwiGLU 5→6→5", [2, 3, 5]) { s in let l = SwiGLU(s, dim: 5, hidden: 6); return (l.forward, l.backward) })
        // RoPE on a fused QKV tensor, description tokens unrotated
        cases.append(unary("RoPE qkv 2 heads × 6", [2, 4, 36]) { _ in
            let l = RoPE<Double>(heads: 2, headDim: 6, parts: 3, rotatedParts: [0, 1])
            let pos = [0, 1.5, 2.25, 7, 0.3, 11, 4, 2]
            let rot = [true, true, true, false, true, true, false, true]
            return ({ l.forward($0, positions: pos, rotate: rot) }, l.backward) })
        cases.append(attention())
        cases.append(attentionChain())
        cases.append(contentsOf: modulation())
        cases.append(embedding())
        cases.append(timestep())
        cases.append(pool())
        return cases
    }

    /// Example 0 fully valid, example 1 with two padded keys, example 2 fully masked.
    static let attentionMask: [Bool] = [true, true, true, true, true,
                                        true, false, true, true, false,
                                        false, false, false, false, false]

    static func attention() -> GradCase {
        let store = ParameterStore<Double>()
        store.finalize()
        let a = JointAttention<Double>(heads: 2, headDim: 4)
        let qkv = input([3, 5, 24], seed: 91)
        return GradCase("JointAttention 2×4, masked rows", store: store, inputs: [("qkv", qkv)],
                        forward: { a.forward(qkv, keyMask: attentionMask) }, backward: { [a.backward($0)] })
    }

    /// QK-norm → RoPE → attention, as one MM-DiT attention site runs them.
    static func attentionChain() -> GradCase {
        let store = ParameterStore<Double>()
        let qk = QKNorm(store.root, heads: 3, headDim: 4)
        store.finalize()
        store.randomise(seed: 5)
        let rope = RoPE<Double>(heads: 3, headDim: 4, parts: 3, rotatedParts: [0, 1])
        let a = JointAttention<Double>(heads: 3, headDim: 4)
        let qkv = input([2, 6, 36], seed: 92)
        let pos: [Double] = [0, 1, 2, 0.5, 1.5, 0, 0, 1, 2, 3, 0, 0]
        let rot: [Bool] = [true, true, true, true, true, false, true, true, true, true, false, false]
        let mask: [Bool] = [true, true, true, true, true, true, true, true, true, false, true, false]
        return GradCase("QKNorm+RoPE+JointAttention 3×4", store: store, inputs: [("qkv", qkv)],
                        forward: { a.forward(rope.forward(qk.forward(qkv), positions: pos, rotate: rot), keyMask: mask) },
                        backward: { [qk.backward(rope.backward(a.backward($0)))] })
    }

    static func modulation() -> [GradCase] {
        let store = ParameterStore<Double>()
        store.finalize()
        let m1 = Modulate<Double>(), m2 = Modulate<Double>(), g = TanhGate<Double>()
        let x = input([2, 3, 5], seed: 93), sc = input([2, 5], seed: 94), sh = input([2, 5], seed: 95)
        let x2 = input([2, 3, 5], seed: 96), f = input([2, 3, 5], seed: 97), gate = input([2, 5], seed: 98)
        return [
            GradCase("Modulate x(1+scale)+shift", store: store, inputs: [("x", x), ("scale", sc), ("shift", sh)],
                     forward: { m1.forward(x, scale: sc, shift: sh) },
                     backward: { let r = m1.backward($0); return [r.dx, r.dscale, r.dshift!] }),
            GradCase("Modulate x(1+scale)", store: store, inputs: [("x", x), ("scale", sc)],
                     forward: { m2.forward(x, scale: sc) },
                     backward: { let r = m2.backward($0); return [r.dx, r.dscale] }),
            GradCase("TanhGate x+tanh(g)f", store: store, inputs: [("x", x2), ("f", f), ("gate", gate)],
                     forward: { g.forward(x2, f, gate: gate) },
                     backward: { let r = g.backward($0); return [r.dx.clone(), r.df, r.dgate] }),
        ]
    }

    static func embedding() -> GradCase {
        let store = ParameterStore<Double>()
        let e = Embedding(store.root, vocab: 11, dim: 4)
        store.finalize()
        store.randomise(seed: 7)
        let ids = [3, 0, 10, 3, 7, 7]
        return GradCase("Embedding 11×4 (repeated ids)", store: store, inputs: [],
                        forward: { e.forward(ids, shape: [2, 3]) }, backward: { e.backward($0); return [] })
    }

    static func timestep() -> GradCase {
        let store = ParameterStore<Double>()
        store.finalize()
        let te = TimestepEmbedding<Double>(dim: 8)
        let t = Tensor<Double>([0.1, 0.5, 0.93], shape: [3])
        return GradCase("TimestepEmbedding 8 (×1000)", tolerance: 1e-5,
                        why: "d/dt carries the factor 1000·f_j: the FD step moves the phase by 1e-3 rad, truncation ~1e-7",
                        store: store, inputs: [("t", t)], forward: { te.forward(t) }, backward: { [te.backward($0)] })
    }

    static func pool() -> GradCase {
        let store = ParameterStore<Double>()
        store.finalize()
        let p = MaskedMeanPool<Double>()
        let x = input([3, 4, 5], seed: 99)
        let mask = [true, false, true, true, false, false, false, false, true, true, true, true]
        return GradCase("MaskedMeanPool (empty example)", store: store, inputs: [("x", x)],
                        forward: { p.forward(x, mask: mask) }, backward: { [p.backward($0)] })
    }
}
