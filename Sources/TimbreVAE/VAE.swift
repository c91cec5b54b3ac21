import Foundation
import TimbreLayers
import TimbreTensor
import TimbreCheckpoint

/// The waveform VAE's configuration (docs/design.md §2), with the field names recipes and checkpoints use.
public struct VAEConfig: ModelConfig, Equatable {
    public var channels: Int
    public var multipliers: [Int]
    public var strides: [Int]
    public var latent_dim: Int
    public var dilations: [Int]?
    public var kernel: Int?
    public var weight_norm: Bool?
    public var activation: String?
    /// Pitch channels and source injection (docs/pitch.md); nil: off.
    public var pitch: PitchConfig?
    /// The decoder's upsampling: `transposed` (default), `nearest` or `sinc` (docs/pitch.md).
    public var upsample: String?

    public init(channels: Int, multipliers: [Int], strides: [Int], latent_dim: Int, dilations: [Int]? = nil,
                kernel: Int? = nil, weight_norm: Bool? = nil, pitch: PitchConfig? = nil, upsample: String? = nil) {
        self.channels = channels; self.multipliers = multipliers; self.strides = strides; self.latent_dim = latent_dim
        self.dilations = dilations; self.kernel = kernel; self.weight_norm = weight_norm; self.pitch = pitch; self.upsample = upsample
    }

    /// Channels of a latent as stored and generated: the learned D, plus 2r pitch channels.
    public var latentChannels: Int { latent_dim + 2 * (pitch?.perFrame ?? 0) }
    /// `nearest` or `sinc`: interpolation, then a convolution (`NearestUpsampleConv`).
    public var interpolatedUpsampling: UpsampleInterpolation? {
        switch upsample { case "nearest": .nearest; case "sinc": .sinc; default: nil }
    }

    public var dilationList: [Int] { dilations ?? [1, 3, 9] }
    public var kernelSize: Int { kernel ?? 7 }
    public var weightNorm: Bool { weight_norm ?? true }
    /// Samples per latent frame: Π strides.
    public var hop: Int { strides.reduce(1, *) }
    /// m[0] = 1, m[i] = multipliers[i−1].
    public var m: [Int] { [1] + multipliers }

    public func validate() -> [String] {
        typealias L = ModelLimits
        var problems = [L.check(channels, "channels", 1...4096), L.check(multipliers, "multipliers", 1...64, count: 1...8),
                        L.check(strides, "strides", 2...64, count: 1...8), L.check(latent_dim, "latent_dim", 1...4096),
                        L.check(kernelSize, "kernel", 1...63), L.check(dilationList, "dilations", 1...1024, count: 1...8)].compactMap { $0 }
        if multipliers.count != strides.count { problems.append("multipliers (\(multipliers.count)) and strides (\(strides.count)) must have equal length") }
        if strides.contains(where: { $0 % 2 != 0 }) { problems.append("strides must be even, got \(strides)") }
        if kernelSize % 2 == 0 { problems.append("kernel must be odd") }
        if let a = activation, a != "snake_beta" { problems.append("activation '\(a)' is not supported (snake_beta)") }
        if let u = upsample, !["transposed", "nearest", "sinc"].contains(u) { problems.append("upsample must be 'transposed', 'nearest' or 'sinc', got '\(u)'") }
        if problems.isEmpty, Double(channels) * Double(multipliers.max()!) > 65536 { problems.append("channels × the largest multiplier must be ≤ 65536") }
        if problems.isEmpty, hop > 1 << 20 { problems.append("the hop (product of the strides, \(hop)) must be ≤ 1048576") }
        if problems.isEmpty, let pitch { problems += pitch.validate(hop: hop).map { "model.\($0)" } }
        return problems
    }

    /// Exact: the model's layers registered in a store that is never allocated (valid configs only).
    public var parameterEstimate: Double {
        let s = ParameterStore<Float>()
        _ = Encoder(s.root.child("encoder"), self)
        _ = Decoder(s.root.child("decoder"), self)
        return Double(s.count)
    }
}

/// `y = x + conv2(snake2(conv1(snake1(x))))`, conv1 k×dilation 'same', conv2 k=1 (docs/design.md §2).
/// conv2 adds x as it writes its output (which is the unit's output).
final class ResidualUnit<T: TensorScalar> {
    let snake1: SnakeBeta<T>, conv1: Conv1d<T>, snake2: SnakeBeta<T>, conv2: Conv1d<T>

    init(_ s: ParamScope<T>, channels c: Int, dilation d: Int, kernel k: Int, weightNorm wn: Bool) {
        snake1 = SnakeBeta(s.child("snake1"), c)
        conv1 = Conv1d(s.child("conv1"), c, c, kernel: k, dilation: d, padding: d * (k - 1) / 2, weightNorm: wn)
        snake2 = SnakeBeta(s.child("snake2"), c)
        conv2 = Conv1d(s.child("conv2"), c, c, kernel: 1, weightNorm: wn)
    }

    func forward(_ x: Tensor<T>) -> Tensor<T> {
        if !conv1.keepsInput {
            // Inference: each activation applied as its convolution reads its input.
            let h = conv1.forward(x, after: snake1)
            let y = conv2.forward(h, adding: x, after: snake2)
            conv1.releaseBuffers()
            return y
        }
        let h = conv1.forward(snake1.forward(x))
        return conv2.forward(snake2.forward(h), adding: x)
    }

    /// Frees the unit's output (conv2's) and gradient buffers.
    func releaseBuffers() { conv2.releaseBuffers() }
    func setKeepsInput(_ on: Bool) { conv1.keepsInput = on; conv2.keepsInput = on }

    /// dx = dy (the skip path) + the branch's input gradient, summed inside snake1's backward.
    func backward(_ dy: Tensor<T>) -> Tensor<T> {
        snake1.backward(conv1.backward(snake2.backward(conv2.backward(dy))), adding: dy)
    }
}

/// The encoder (docs/design.md §2): conv_in, L blocks of (3 residual units, Snake, strided conv), Snake,
/// conv_out to 2·D channels (mean and scale).
/// Names: `encoder.conv_in`, `encoder.blocks.{b}.res.{r}.{snake1,conv1,snake2,conv2}`,
/// `encoder.blocks.{b}.snake`, `encoder.blocks.{b}.conv`, `encoder.snake_out`, `encoder.conv_out`.
final class Encoder<T: TensorScalar> {
    let convIn: Conv1d<T>
    let res: [[ResidualUnit<T>]]
    let snakes: [SnakeBeta<T>], downs: [Conv1d<T>]
    let snakeOut: SnakeBeta<T>, convOut: Conv1d<T>

    init(_ s: ParamScope<T>, _ c: VAEConfig) {
        let C = c.channels, m = c.m, k = c.kernelSize, wn = c.weightNorm
        convIn = Conv1d(s.child("conv_in"), 1, C * m[0], kernel: k, padding: (k - 1) / 2, weightNorm: wn)
        var res: [[ResidualUnit<T>]] = [], snakes: [SnakeBeta<T>] = [], downs: [Conv1d<T>] = []
        for i in 1...c.strides.count {
            let b = s.child("blocks").child(i - 1), ch = C * m[i - 1], st = c.strides[i - 1]
            res.append(c.dilationList.enumerated().map { r, d in ResidualUnit(b.child("res").child(r), channels: ch, dilation: d, kernel: k, weightNorm: wn) })
            snakes.append(SnakeBeta(b.child("snake"), ch))
            downs.append(Conv1d(b.child("conv"), ch, C * m[i], kernel: 2 * st, stride: st, padding: (st + 1) / 2, weightNorm: wn))
        }
        self.res = res; self.snakes = snakes; self.downs = downs
        snakeOut = SnakeBeta(s.child("snake_out"), C * m[c.strides.count])
        convOut = Conv1d(s.child("conv_out"), C * m[c.strides.count], 2 * c.latent_dim, kernel: 3, padding: 1, weightNorm: wn)
    }

    func forward(_ x: Tensor<T>) -> Tensor<T> {
        var r = BufferReleaser(active: !convIn.keepsInput)
        var h = r.after(convIn.forward(x), convIn.releaseBuffers)
        let fused = !convIn.keepsInput  // inference: activations applied as the next convolution reads
        for i in res.indices {
            for u in res[i] { h = r.after(u.forward(h), u.releaseBuffers) }
            if !fused { h = snakes[i].forward(h) }
            h = r.after(downs[i].forward(h, after: fused ? snakes[i] : nil), downs[i].releaseBuffers)
        }
        if !fused { h = snakeOut.forward(h) }
        return r.after(convOut.forward(h, after: fused ? snakeOut : nil), convOut.releaseBuffers)
    }

    func setKeepsInput(_ on: Bool) {
        convIn.keepsInput = on; convOut.keepsInput = on
        for i in res.indices { res[i].forEach { $0.setKeepsInput(on) }; downs[i].keepsInput = on }
    }

    func backward(_ dy: Tensor<T>) -> Tensor<T> {
        var g = snakeOut.backward(convOut.backward(dy))
        for i in res.indices.reversed() {
            g = snakes[i].backward(downs[i].backward(g))
            for u in res[i].reversed() { g = u.backward(g) }
        }
        return convIn.backward(g)
    }
}

/// A decoder block's upsampling: a transposed convolution or interpolation (nearest or sinc) + convolution.
enum Upsampler<T: TensorScalar> {
    case transposed(ConvTranspose1d<T>)
    case interpolated(NearestUpsampleConv<T>)

    func forward(_ x: Tensor<T>, after snake: SnakeBeta<T>?) -> Tensor<T> {
        switch self {
        case .transposed(let c): c.forward(x, after: snake)
        case .interpolated(let c): c.forward(x, after: snake)
        }
    }
    func backward(_ dy: Tensor<T>) -> Tensor<T> {
        switch self {
        case .transposed(let c): c.backward(dy)
        case .interpolated(let c): c.backward(dy)
        }
    }
    func releaseBuffers() {
        switch self {
        case .transposed(let c): c.releaseBuffers()
        case .interpolated(let c): c.releaseBuffers()
        }
    }
    func setKeepsInput(_ on: Bool) {
        switch self {
        case .transposed(let c): c.keepsInput = on
        case .interpolated(let c): c.keepsInput = on
        }
    }
}

/// The decoder (mirror): conv_in from D, L blocks of (Snake, upsampling, [+ source injection],
/// 3 residual units), Snake, conv_out to 1 channel without bias. No tanh.
/// Names: `decoder.conv_in`, `decoder.blocks.{b}.snake`, `decoder.blocks.{b}.conv`,
/// `decoder.blocks.{b}.res.{r}.…`, `decoder.snake_out`, `decoder.conv_out`, and with pitch
/// `decoder.source.{b}`: `Conv1d(1 → channels of block b, k = 2d, stride d, pad d/2)` (k = 1 and
/// no weight norm when d = 1) of the source `e [B, 1, F·hop]`, d = the product of the strides of the blocks after b,
/// added to block b's upsampled signal.
final class Decoder<T: TensorScalar> {
    let convIn: Conv1d<T>
    let snakes: [SnakeBeta<T>], ups: [Upsampler<T>]
    let sources: [Conv1d<T>]
    let res: [[ResidualUnit<T>]]
    let snakeOut: SnakeBeta<T>, convOut: Conv1d<T>
    let hop: Int

    init(_ s: ParamScope<T>, _ c: VAEConfig) {
        let C = c.channels, m = c.m, k = c.kernelSize, wn = c.weightNorm, L = c.strides.count
        hop = c.hop
        convIn = Conv1d(s.child("conv_in"), c.latent_dim, C * m[L], kernel: k, padding: (k - 1) / 2, weightNorm: wn)
        var snakes: [SnakeBeta<T>] = [], ups: [Upsampler<T>] = [], res: [[ResidualUnit<T>]] = [], sources: [Conv1d<T>] = []
        for (b, i) in (1...L).reversed().enumerated() {
            let sc = s.child("blocks").child(b), st = c.strides[i - 1]
            snakes.append(SnakeBeta(sc.child("snake"), C * m[i]))
            ups.append(c.interpolatedUpsampling.map {
                .interpolated(NearestUpsampleConv(sc.child("conv"), C * m[i], C * m[i - 1], stride: st, weightNorm: wn, interpolation: $0)) }
                ?? .transposed(ConvTranspose1d(sc.child("conv"), C * m[i], C * m[i - 1], kernel: 2 * st, stride: st, padding: (st + 1) / 2, weightNorm: wn)))
            if c.pitch != nil {
                let d = c.strides[0..<(i - 1)].reduce(1, *)
                // At d = 1 (k = 1, one input channel) each weight row is one number: weight norm
                // would leave v only a sign and an identically zero gradient, so that one is plain.
                sources.append(Conv1d(s.child("source").child(b), 1, C * m[i - 1], kernel: d == 1 ? 1 : 2 * d, stride: d,
                                      padding: d == 1 ? 0 : d / 2, weightNorm: wn && d > 1))
            }
            res.append(c.dilationList.enumerated().map { r, d in
                ResidualUnit(sc.child("res").child(r), channels: C * m[i - 1], dilation: d, kernel: k, weightNorm: wn) })
        }
        self.snakes = snakes; self.ups = ups; self.res = res; self.sources = sources
        snakeOut = SnakeBeta(s.child("snake_out"), C * m[0])
        convOut = Conv1d(s.child("conv_out"), C * m[0], 1, kernel: k, padding: (k - 1) / 2, bias: false, weightNorm: wn)
    }

    /// `source` `[B, 1, F·hop]` is required with pitch and ignored without.
    func forward(_ z: Tensor<T>, source: Tensor<T>?) -> Tensor<T> {
        precondition(sources.isEmpty || source?.shape == [z.shape[0], 1, z.shape[2] * hop],
                     "Decoder: a pitch decoder needs its source [\(z.shape[0]), 1, \(z.shape[2] * hop)], got \(source?.shape ?? [])")
        var r = BufferReleaser(active: !convIn.keepsInput)
        var h = r.after(convIn.forward(z), convIn.releaseBuffers)
        let fused = !convIn.keepsInput  // inference: activations applied as the next convolution reads
        for i in ups.indices {
            if !fused { h = snakes[i].forward(h) }
            h = r.after(ups[i].forward(h, after: fused ? snakes[i] : nil), ups[i].releaseBuffers)
            if !sources.isEmpty, let source { h = r.after(sources[i].forward(source, adding: h), sources[i].releaseBuffers) }
            for u in res[i] { h = r.after(u.forward(h), u.releaseBuffers) }
        }
        if !fused { h = snakeOut.forward(h) }
        return r.after(convOut.forward(h, after: fused ? snakeOut : nil), convOut.releaseBuffers)
    }

    func setKeepsInput(_ on: Bool) {
        convIn.keepsInput = on; convOut.keepsInput = on
        for i in ups.indices { res[i].forEach { $0.setKeepsInput(on) }; ups[i].setKeepsInput(on) }
        sources.forEach { $0.keepsInput = on }
    }

    /// The gradient after block i's injection flows into the upsampling and, for the source
    /// convolution's parameters, into the injection (the source itself is not learned).
    func backward(_ dy: Tensor<T>) -> Tensor<T> {
        var g = snakeOut.backward(convOut.backward(dy))
        for i in ups.indices.reversed() {
            for u in res[i].reversed() { g = u.backward(g) }
            if !sources.isEmpty { _ = sources[i].backward(g) }
            g = snakes[i].backward(ups[i].backward(g))
        }
        return convIn.backward(g)
    }
}

/// The VAE: encoder, softplus-std bottleneck, decoder (docs/design.md §2).
///
/// Bottleneck: `[mean, scale] = split(encoder(x))` on channels, `std = softplus(scale) + 1e-4`,
/// `z = mean + std·ε` (training; ε given, so a step can be replayed) or `z = mean` (encoding),
/// `KL = mean over batch and frames of Σ_c (mean² + std² − log std² − 1)` (no ½, as
/// stable-audio-tools). Shapes: x `[B, 1, T]` (T a multiple of the hop), z `[B, D, T/hop]`.
public final class VAE<T: TensorScalar> {
    public let config: VAEConfig
    public let store: ParameterStore<T>
    let encoder: Encoder<T>, decoder: Decoder<T>
    var mean = Workspace<T>(), scale = Workspace<T>(), std = Workspace<T>(), z = Workspace<T>(), dh = Workspace<T>()
    var eps: Tensor<T>?

    public init(_ config: VAEConfig, store: ParameterStore<T> = ParameterStore<T>(), seed: UInt64 = 0) {
        self.config = config; self.store = store
        encoder = Encoder(store.root.child("encoder"), config)
        decoder = Decoder(store.root.child("decoder"), config)
        if !store.isFinalized {
            store.finalize(seed: seed)
            // Biases start at zero (as DAC initialises its convolutions): with PyTorch's uniform
            // bias init the decoder's output at init is mostly the biases' constant response
            // (z moved it by 13 % rms at vae-small's size), so its first thing to learn is the
            // average spectrum, not the use of z.
            for p in store.params where p.kind == .bias { p.value.zero() }
            initialiseBottleneck()
        }
    }

    /// Initial posterior std: the scale half of `encoder.conv_out.bias` starts at −4, so
    /// std₀ = softplus(−4) + 1e-4 ≈ 0.018 instead of PyTorch-default init's ≈ 0.7.
    ///
    /// Why: at default init the encoder's output varies by ≈ 0.02 over time while the sampling
    /// noise has std ≈ 0.7, so the decoder sees noise, learns the corpus's average spectrum and
    /// ignores z; the encoder then gets almost no gradient (posterior collapse). A one-hour
    /// `vae-small` run did exactly that: held-out STOI 0.35, ESTOI 0.00, a stationary output.
    /// The KL term (weight 1e-4) still pulls std up where z carries no information.
    public static var initialScaleBias: Double { -4 }

    func initialiseBottleneck() {
        guard let bias = encoder.convOut.bias else { return }
        let D = config.latent_dim
        for c in D..<(2 * D) { bias.value[c] = T(Self.initialScaleBias) }
    }

    /// Data-dependent initialisation of the latent means (Salimans & Kingma's for weight norm):
    /// rescales and shifts the mean half of `encoder.conv_out` so that, over `x`, every latent
    /// channel has mean 0 and std `targetStd`. Returns the channel stds before (for the log).
    ///
    /// Why: with PyTorch-default init the encoder's output varies by ≈ 0.01 over time (each
    /// layer shrinks its input), far below any posterior noise, so the decoder sees no signal in
    /// z and learns the average spectrum instead (observed in one-hour runs). Called once at
    /// the start of training (never on resume, which restores trained weights).
    @discardableResult
    public func initialiseLatentScale(_ x: Tensor<T>, targetStd: Double = 1) -> [Double] {
        let conv = encoder.convOut
        let (mean, _) = encode(x)
        let (B, D, F) = (mean.shape[0], mean.shape[1], mean.shape[2])
        var before: [Double] = []
        for c in 0..<D {
            var s = 0.0, ss = 0.0
            for b in 0..<B { for f in 0..<F { let v = Double(mean[(b * D + c) * F + f]); s += v; ss += v * v } }
            let n = Double(B * F), m = s / n, sd = max((ss / n - m * m).squareRoot(), 1e-8)
            before.append(sd)
            let k = targetStd / sd
            if let g = conv.weight.g { g.value[c] = T(Double(g.value[c]) * k) } else if let w = conv.weight.weight {
                let per = w.count / w.shape[0]
                for i in 0..<per { w.value[c * per + i] = T(Double(w.value[c * per + i]) * k) }
            }
            if let bias = conv.bias { bias.value[c] = T((Double(bias.value[c]) - m) * k) }
        }
        conv.weightsChanged()
        return before
    }

    public var hop: Int { config.hop }

    /// Encoder output split into (mean, scale), each `[B, D, F]`.
    public func encode(_ x: Tensor<T>) -> (mean: Tensor<T>, scale: Tensor<T>) {
        precondition(x.rank == 3 && x.shape[1] == 1 && x.shape[2] % hop == 0,
                     "VAE: x must be [B, 1, T] with T a multiple of the hop \(hop), got \(x.shape)")
        let h = encoder.forward(x)
        let (B, D, F) = (h.shape[0], config.latent_dim, h.shape[2])
        let mean = self.mean.get([B, D, F]), scale = self.scale.get([B, D, F])
        for b in 0..<B {
            (mean.data + b * D * F).update(from: h.data + b * 2 * D * F, count: D * F)
            (scale.data + b * D * F).update(from: h.data + b * 2 * D * F + D * F, count: D * F)
        }
        return (mean, scale)
    }

    /// The decoder on learned latents `z [B, D, F]`; a pitch VAE needs the source `[B, 1, F·hop]`
    /// rendered from the latent's pitch channels (`PitchSource`).
    public func decode(_ z: Tensor<T>, source: Tensor<T>? = nil) -> Tensor<T> { decoder.forward(z, source: source) }

    /// Inference only (encode and decode, no backward): layers keep no inputs and free each
    /// activation once the next layer has read it, so a one-shot decode faults in the pages of a
    /// few activations rather than all of them.
    public func inferenceMode() {
        encoder.setKeepsInput(false); decoder.setKeepsInput(false)
    }

    /// False while the encoder is frozen (a recipe's `training.freeze` covers `encoder.`): the
    /// encoder keeps no inputs and `backward` stops at the latents.
    public var trainsEncoder = true {
        didSet { encoder.setKeepsInput(trainsEncoder) }
    }

    /// Training forward: reconstruction and KL. `eps` is N(0, 1) noise `[B, D, F]` (nil → z = mean);
    /// `source` the pitch VAE's excitation `[B, 1, T]` (`PitchSource`, from x's pitch channels).
    public func forward(_ x: Tensor<T>, eps: Tensor<T>?, source: Tensor<T>? = nil) -> (recon: Tensor<T>, kl: Double) {
        let (mean, scale) = encode(x)
        let std = self.std.get(mean.shape), z = self.z.get(mean.shape)
        var kl = 0.0
        for i in 0..<mean.count {
            let s = scale[i]
            let sp = s > 20 ? s : T.log(1 + T.exp(s))
            let sd = sp + 1e-4
            std[i] = sd
            z[i] = mean[i] + (eps.map { sd * $0[i] } ?? 0)
            kl += Double(mean[i] * mean[i] + sd * sd - T.log(sd * sd) - 1)
        }
        self.eps = eps
        let frames = mean.shape[0] * mean.shape[2]
        return (decoder.forward(z, source: source), kl / Double(frames))
    }

    /// Backward from dL/d(recon) and the KL weight; accumulates parameter gradients and returns
    /// dL/dx (dL/dz, the decoder's input gradient, when `trainsEncoder` is false).
    @discardableResult
    public func backward(_ dRecon: Tensor<T>, klWeight: Double) -> Tensor<T> {
        guard let mean = mean.current, let scale = scale.current, let std = std.current else { preconditionFailure("VAE.backward before forward") }
        let dz = decoder.backward(dRecon)
        guard trainsEncoder else { return dz }
        let (B, D, F) = (mean.shape[0], mean.shape[1], mean.shape[2])
        let dh = self.dh.get([B, 2 * D, F])
        let w = T(klWeight / Double(B * F))
        for b in 0..<B {
            for i in 0..<(D * F) {
                let j = b * D * F + i
                let sd = std[j], s = scale[j]
                let dmean = dz[j] + w * 2 * mean[j]
                let dstd = (eps.map { dz[j] * $0[j] } ?? 0) + w * (2 * sd - 2 / sd)
                let dscale = dstd * (s > 20 ? 1 : T.sigmoid(s))
                dh[b * 2 * D * F + i] = dmean
                dh[b * 2 * D * F + D * F + i] = dscale
            }
        }
        return encoder.backward(dh)
    }
}
