import TimbreDSP
import TimbreLayers
import TimbreLosses
import TimbreTensor

/// The multi-scale STFT discriminator of docs/design.md §2's adversarial stage (EnCodec's `MultiScaleSTFTDiscriminator`,
/// as stable-audio-tools configures it), one `ScaleDiscriminator` per FFT size.
public struct DiscriminatorConfig: Codable, Equatable, Sendable {
    /// Channels of every convolution (EnCodec's `filters`, with `filters_scale` 1).
    public var filters: Int = 32
    /// FFT sizes; hop n/4, window n (stable-audio-tools: 2048, 1024, 512, 256, 128).
    public var n_ffts: [Int] = [2048, 1024, 512, 256, 128]
    /// Time dilations of the three strided convolutions.
    public var dilations: [Int] = [1, 2, 4]
    /// Periods of HiFi-GAN period sub-discriminators beside the scales (default none, docs/design.md §2;
    /// DAC adds [2, 3, 5, 7, 11]).
    public var periods: [Int] = []
    public init(filters: Int = 32, n_ffts: [Int] = [2048, 1024, 512, 256, 128], dilations: [Int] = [1, 2, 4], periods: [Int] = []) {
        self.filters = filters; self.n_ffts = n_ffts; self.dilations = dilations; self.periods = periods
    }

    enum CodingKeys: String, CodingKey { case filters, n_ffts, dilations, periods }

    /// From a recipe's `adversarial` section: an absent key keeps its default.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = DiscriminatorConfig()
        self.init(filters: try c.decodeIfPresent(Int.self, forKey: .filters) ?? d.filters,
                  n_ffts: try c.decodeIfPresent([Int].self, forKey: .n_ffts) ?? d.n_ffts,
                  dilations: try c.decodeIfPresent([Int].self, forKey: .dilations) ?? d.dilations,
                  periods: try c.decodeIfPresent([Int].self, forKey: .periods) ?? d.periods)
    }

    /// What is wrong with the values, one "key: problem" each; empty when it can be built.
    public func validate() -> [String] {
        var problems: [String] = []
        if filters < 1 { problems.append("filters: must be ≥ 1, got \(filters)") }
        if n_ffts.isEmpty || n_ffts.contains(where: { $0 < 16 || $0 % 4 != 0 }) {
            problems.append("n_ffts: must be a non-empty list of sizes ≥ 16 divisible by 4 (hop n/4), got \(n_ffts)")
        }
        if dilations.contains(where: { $0 < 1 }) { problems.append("dilations: must all be ≥ 1, got \(dilations)") }
        if periods.contains(where: { $0 < 2 }) || Set(periods).count != periods.count {
            problems.append("periods: must be distinct periods ≥ 2, got \(periods)")
        }
        return problems
    }
}

/// One sub-discriminator: the logits and features (each activation's output) of `x [B, 1, L]`,
/// and the gradient of `x` given dL/d(logits) and dL/d(feature i) (nil: none), parameter
/// gradients accumulating.
public protocol SubDiscriminator<Scalar>: AnyObject {
    associatedtype Scalar: TensorScalar
    /// The convolutions after the sub-discriminator's own view of the signal.
    var body: ConvStack<Scalar> { get }
    func forward(_ x: Tensor<Scalar>) -> (logits: Tensor<Scalar>, features: [Tensor<Scalar>])
    func backward(_ dlogits: Tensor<Scalar>, features: [Tensor<Scalar>?]) -> Tensor<Scalar>
}

extension SubDiscriminator {
    /// Features per signal: one per convolution before `conv_post`.
    public var featureCount: Int { body.convs.count }
}

/// Weight-normalised `Conv2d`s, each followed by LeakyReLU(0.2), then `conv_post` (the logits):
/// the body every sub-discriminator shares after its own view of the signal.
public final class ConvStack<T: TensorScalar> {
    public let convs: [Conv2d<T>]
    public let post: Conv2d<T>
    let acts: [LeakyReLU<T>]

    public init(_ convs: [Conv2d<T>], post: Conv2d<T>) {
        self.convs = convs; self.post = post
        acts = convs.map { _ in LeakyReLU<T>() }
    }

    public func forward(_ x: Tensor<T>) -> (logits: Tensor<T>, features: [Tensor<T>]) {
        var h = x, features: [Tensor<T>] = []
        for (conv, act) in zip(convs, acts) {
            h = act.forward(conv.forward(h))
            features.append(h)
        }
        return (post.forward(h), features)
    }

    public func backward(_ dlogits: Tensor<T>, features dfeatures: [Tensor<T>?], owner: String) -> Tensor<T> {
        precondition(dfeatures.count == convs.count, "\(owner): \(dfeatures.count) feature gradients for \(convs.count) features")
        var g = post.backward(dlogits)
        for i in stride(from: convs.count - 1, through: 0, by: -1) {
            if let df = dfeatures[i] {
                ShapeCheck.same(owner, "feature gradient \(i)", df, "feature", g)
                Kernels.axpy(g.count, 1, df.data, g.data)  // g is the layer above's input-gradient buffer, consumed here
            }
            g = convs[i].backward(acts[i].backward(g))
        }
        return g
    }
}

/// One scale: a non-centred STFT (`center=False`, periodic Hann window n, hop n/4, normalised by
/// 1/√(Σ window²) as torchaudio's `normalized=True`) whose real and imaginary parts are two
/// channels `[B, 2, frames, bins]`, then weight-normalised `Conv2d`s with LeakyReLU(0.2):
/// k (3, 9) 2 → F; for each dilation d, k (3, 9), stride (1, 2), dilation (d, 1), F → F; k (3, 3)
/// F → F; and `conv_post` k (3, 3) F → 1 without activation (the logits). Padding keeps the
/// frame count: ((3 − 1)·d/2, (k − 1)/2). The features are the activations' outputs.
public final class ScaleDiscriminator<T: FFTScalar>: SubDiscriminator {
    public let frames: SpectralFrames<T>
    public let body: ConvStack<T>
    let scale: T
    var length = 0, batch = 0
    var spec = Workspace<T>(), dx = Workspace<T>()

    public init(_ scope: ParamScope<T>, n: Int, filters: Int, dilations: [Int]) {
        frames = SpectralFrames(n: n, hop: n / 4, centred: false)
        scale = 1 / frames.window.reduce(0) { $0 + $1 * $1 }.squareRoot()
        var layers = [Conv2d(scope.child("convs.0"), 2, filters, kernel: (3, 9), padding: (1, 4), weightNorm: true)]
        for (i, d) in dilations.enumerated() {
            layers.append(Conv2d(scope.child("convs.\(i + 1)"), filters, filters, kernel: (3, 9), stride: (1, 2), dilation: (d, 1),
                                 padding: (d, 4), weightNorm: true))
        }
        layers.append(Conv2d(scope.child("convs.\(dilations.count + 1)"), filters, filters, kernel: (3, 3), padding: (1, 1), weightNorm: true))
        body = ConvStack(layers, post: Conv2d(scope.child("conv_post"), filters, 1, kernel: (3, 3), padding: (1, 1), weightNorm: true))
    }

    /// Logits `[B, 1, frames, bins′]` and the features (each activation's output) of `x [B, 1, L]`.
    public func forward(_ x: Tensor<T>) -> (logits: Tensor<T>, features: [Tensor<T>]) {
        precondition(x.rank == 3 && x.shape[1] == 1, "ScaleDiscriminator(n=\(frames.n)): x must be [B, 1, L], got \(x.shape)")
        batch = x.shape[0]; length = x.shape[2]
        let F = frames.frames(length), K = frames.bins
        precondition(F >= 1, "ScaleDiscriminator(n=\(frames.n)): a signal of \(length) samples is shorter than one window")
        let z = spec.get([batch, 2, F, K])
        var bins = [T](repeating: 0, count: F * K * 2)
        for b in 0..<batch {
            bins.withUnsafeMutableBufferPointer { frames.forward(x.data + b * length, length, into: $0.baseAddress!) }
            let re = z.data + b * 2 * F * K, im = re + F * K
            for i in 0..<F * K { re[i] = bins[2 * i] * scale; im[i] = bins[2 * i + 1] * scale }
        }
        return body.forward(z)
    }

    /// The gradient of `x` given dL/d(logits) and dL/d(feature i) (nil: none); parameter
    /// gradients accumulate.
    public func backward(_ dlogits: Tensor<T>, features dfeatures: [Tensor<T>?]) -> Tensor<T> {
        let g = body.backward(dlogits, features: dfeatures, owner: "ScaleDiscriminator(n=\(frames.n))")
        let F = frames.frames(length), K = frames.bins
        let dx = self.dx.get([batch, 1, length], zero: true)
        for b in 0..<batch {
            let re = g.data + b * 2 * F * K, im = re + F * K
            frames.adjoint(length, into: dx.data + b * length) { f, k in (re[f * K + k] * self.scale, im[f * K + k] * self.scale) }
        }
        return dx
    }
}

/// HiFi-GAN's period sub-discriminator (DAC runs five beside its spectral ones): `x [B, 1, L]`,
/// reflect-padded at the end to a multiple of the period p and laid out as `[B, 1, p, L′/p]`
/// (row c holds phase c: samples c, c + p, c + 2p, …), then weight-normalised `Conv2d`s k (1, 5),
/// padding (0, 2), with stride (1, 3) for all but the last, through `channels`, LeakyReLU(0.2)
/// after each, and `conv_post` k (1, 3), padding (0, 1), to the logits. This is HiFi-GAN's
/// `[B, 1, L′/p, p]` view with k (5, 1) transposed: the same arithmetic, with the windows of
/// `Conv2d`'s im2col running along the long axis rather than p samples wide. A signal that
/// repeats every p samples gives constant rows, so the convolutions see periodicity directly,
/// which the STFT scales show only indirectly.
public final class PeriodDiscriminator<T: TensorScalar>: SubDiscriminator {
    public let period: Int
    public let body: ConvStack<T>
    var length = 0, batch = 0
    var padded = Workspace<T>(), dx = Workspace<T>()

    public init(_ scope: ParamScope<T>, period: Int, channels: [Int]) {
        precondition(period >= 2 && !channels.isEmpty, "PeriodDiscriminator: period \(period), channels \(channels)")
        self.period = period
        var layers: [Conv2d<T>] = [], c = 1
        for (i, ch) in channels.enumerated() {
            layers.append(Conv2d(scope.child("convs.\(i)"), c, ch, kernel: (1, 5), stride: (1, i < channels.count - 1 ? 3 : 1),
                                 padding: (0, 2), weightNorm: true))
            c = ch
        }
        body = ConvStack(layers, post: Conv2d(scope.child("conv_post"), c, 1, kernel: (1, 3), padding: (0, 1), weightNorm: true))
    }

    public func forward(_ x: Tensor<T>) -> (logits: Tensor<T>, features: [Tensor<T>]) {
        precondition(x.rank == 3 && x.shape[1] == 1, "PeriodDiscriminator(p=\(period)): x must be [B, 1, L], got \(x.shape)")
        batch = x.shape[0]; length = x.shape[2]
        let rows = (length + period - 1) / period, n = rows * period
        precondition(n - length < length, "PeriodDiscriminator(p=\(period)): a signal of \(length) samples is too short to pad")
        let z = padded.get([batch, 1, period, rows])
        for b in 0..<batch {
            let src = x.data + b * length, dst = z.data + b * n
            for c in 0..<period {
                for r in 0..<rows { dst[c * rows + r] = src[reflected(r * period + c)] }
            }
        }
        return body.forward(z)
    }

    public func backward(_ dlogits: Tensor<T>, features dfeatures: [Tensor<T>?]) -> Tensor<T> {
        let g = body.backward(dlogits, features: dfeatures, owner: "PeriodDiscriminator(p=\(period))")
        let n = g.count / batch, rows = n / period
        let dx = self.dx.get([batch, 1, length], zero: true)
        for b in 0..<batch {
            let src = g.data + b * n, dst = dx.data + b * length
            for c in 0..<period {
                for r in 0..<rows { dst[reflected(r * period + c)] += src[c * rows + r] }
            }
        }
        return dx
    }

    /// The sample of `x` at position t of the padded signal (reflection past the end, the last
    /// sample not repeated).
    @inline(__always) func reflected(_ t: Int) -> Int { t < length ? t : 2 * length - 2 - t }
}

/// All scales, parameters named `discriminators.{i}.convs.{j}.weight_g|weight_v|bias` and
/// `discriminators.{i}.conv_post.…` as EnCodec's module, and the period sub-discriminators of
/// `config.periods` (channels filters × [1, 2, 4, 8, 8]), named `periods.{i}.convs.{j}.…` and
/// `periods.{i}.conv_post.…`.
public final class MSSTFTDiscriminator<T: FFTScalar> {
    public let config: DiscriminatorConfig
    public let store: ParameterStore<T>
    public let scales: [ScaleDiscriminator<T>]
    public let periods: [PeriodDiscriminator<T>]
    /// The scales, then the periods: the order of `forward`'s outputs. For tests and inspection:
    /// calls through these existentials run unspecialised generic code (5× slower in training),
    /// so the methods here go through `scales` and `periods`.
    public var subs: [any SubDiscriminator<T>] { scales + periods }

    public init(_ config: DiscriminatorConfig, store: ParameterStore<T> = ParameterStore<T>(), seed: UInt64 = 0) {
        self.config = config; self.store = store
        scales = config.n_ffts.enumerated().map { i, n in
            ScaleDiscriminator(store.root.child("discriminators.\(i)"), n: n, filters: config.filters, dilations: config.dilations)
        }
        let f = config.filters
        periods = config.periods.enumerated().map { i, p in
            PeriodDiscriminator(store.root.child("periods.\(i)"), period: p, channels: [f, 2 * f, 4 * f, 8 * f, 8 * f])
        }
        store.finalize(seed: seed)
    }

    public func forward(_ x: Tensor<T>) -> [(logits: Tensor<T>, features: [Tensor<T>])] {
        scales.map { $0.forward(x) } + periods.map { $0.forward(x) }
    }

    /// dL/dx summed over the sub-discriminators, given each one's logit and feature gradients.
    public func backward(_ grads: [(logits: Tensor<T>, features: [Tensor<T>?])]) -> Tensor<T> {
        precondition(grads.count == scales.count + periods.count,
                     "MSSTFTDiscriminator: \(grads.count) gradients for \(scales.count + periods.count) sub-discriminators")
        var dx: Tensor<T>?
        func add(_ d: Tensor<T>) { if let acc = dx { Kernels.axpy(acc.count, 1, d.data, acc.data) } else { dx = d.clone() } }
        for (s, g) in zip(scales, grads) { add(s.backward(g.logits, features: g.features)) }
        for (s, g) in zip(periods, grads.dropFirst(scales.count)) { add(s.backward(g.logits, features: g.features)) }
        return dx!
    }
}

extension MSSTFTDiscriminator {
    /// The losses of one training step and the discriminator's part of it, one sub-discriminator
    /// at a time (so that only one's activations and real features are held):
    /// - with `trainDiscriminator`, the gradients of its hinge loss on `real` and on `fake`
    ///   (detached) accumulate into `store.grads`;
    /// - the generator's loss `adversarialWeight · adversarial + featureWeight · feature matching`
    ///   (`AdversarialLoss.generator`, the real features constants) is differentiated with respect
    ///   to `fake` through the discriminator as it is; the parameter gradients that backward
    ///   produces are discarded (`store.grads` is restored after it).
    /// Returns the three losses (unweighted) and dL_G/d`fake`.
    public func trainingStep(real: Tensor<T>, fake: Tensor<T>, adversarialWeight: Double, featureWeight: Double,
                             trainDiscriminator: Bool = true)
        -> (discriminator: Double, adversarial: Double, featureMatching: Double, dFake: Tensor<T>) {
        ShapeCheck.same("MSSTFTDiscriminator.trainingStep", "real", real, "fake", fake)
        let dFake = Tensor<T>(zeros: fake.shape), kept = Tensor<T>(zeros: [store.count])
        var losses = (discriminator: 0.0, adversarial: 0.0, featureMatching: 0.0)
        for s in scales { step(s, real, fake, adversarialWeight, featureWeight, trainDiscriminator, dFake, kept, &losses) }
        for s in periods { step(s, real, fake, adversarialWeight, featureWeight, trainDiscriminator, dFake, kept, &losses) }
        return (losses.discriminator, losses.adversarial, losses.featureMatching, dFake)
    }

    /// `trainingStep`'s work for one sub-discriminator (generic over its concrete type, so that
    /// its layers run specialised code).
    func step<S: SubDiscriminator>(_ s: S, _ real: Tensor<T>, _ fake: Tensor<T>, _ adversarialWeight: Double, _ featureWeight: Double,
                                   _ trainDiscriminator: Bool, _ dFake: Tensor<T>, _ kept: Tensor<T>,
                                   _ losses: inout (discriminator: Double, adversarial: Double, featureMatching: Double)) where S.Scalar == T {
        let none = [Tensor<T>?](repeating: nil, count: s.featureCount)
        let r = s.forward(real)
        let realFeatures = r.features.map { $0.clone() }
        let hr = AdversarialLoss.hinge(r.logits, real: true)
        if trainDiscriminator { _ = s.backward(hr.grad, features: none) }
        let f = s.forward(fake)
        let hf = AdversarialLoss.hinge(f.logits, real: false)
        losses.discriminator += hr.loss + hf.loss
        if trainDiscriminator { _ = s.backward(hf.grad, features: none) }
        let g = AdversarialLoss.generator(fake: [f], realFeatures: [realFeatures], adversarialWeight: adversarialWeight,
                                          featureWeight: featureWeight)
        losses.adversarial += g.adversarial; losses.featureMatching += g.featureMatching
        kept.copy(from: store.grads)
        Kernels.axpy(dFake.count, 1, s.backward(g.grads[0].logits, features: g.grads[0].features).data, dFake.data)
        store.grads.copy(from: kept)
    }
}

/// The adversarial losses of stable-audio-tools' `EncodecDiscriminator.loss` (hinge, docs/design.md §2),
/// over the scales' outputs, with their gradients.
public enum AdversarialLoss {
    /// The discriminator's loss Σ_s [mean relu(1 − real_s) + mean relu(1 + fake_s)] and its
    /// gradients with respect to each scale's real and fake logits.
    public static func discriminator<T: TensorScalar>(real: [Tensor<T>], fake: [Tensor<T>]) -> (loss: Double, dReal: [Tensor<T>], dFake: [Tensor<T>]) {
        precondition(real.count == fake.count, "AdversarialLoss: \(real.count) real scales, \(fake.count) fake")
        let r = real.map { hinge($0, real: true) }, f = fake.map { hinge($0, real: false) }
        return ((r + f).reduce(0) { $0 + $1.loss }, r.map(\.grad), f.map(\.grad))
    }

    /// One scale's term of the discriminator's loss: mean relu(1 − logits) for real signals,
    /// mean relu(1 + logits) for fakes, and its gradient.
    public static func hinge<T: TensorScalar>(_ logits: Tensor<T>, real: Bool) -> (loss: Double, grad: Tensor<T>) {
        let d = Tensor<T>(zeros: logits.shape), n = logits.count
        let (p, dp) = (logits.data, d.data)
        let sign: T = real ? -1 : 1
        var loss = 0.0
        for i in 0..<n where 1 + sign * p[i] > 0 { loss += Double(1 + sign * p[i]); dp[i] = sign / T(n) }
        return (loss / Double(n), d)
    }

    /// The generator's adversarial loss Σ_s −mean(fake_s) and feature matching
    /// Σ_s (Σ_l mean |real_sl − fake_sl|) / L_s, and the gradient of
    /// `adversarialWeight · adversarial + featureWeight · featureMatching` with respect to each
    /// scale's fake logits and fake features (the real features are constants).
    public static func generator<T: TensorScalar>(fake: [(logits: Tensor<T>, features: [Tensor<T>])], realFeatures: [[Tensor<T>]],
                                                  adversarialWeight: Double, featureWeight: Double)
        -> (adversarial: Double, featureMatching: Double, grads: [(logits: Tensor<T>, features: [Tensor<T>?])]) {
        precondition(fake.count == realFeatures.count, "AdversarialLoss: \(fake.count) fake scales, \(realFeatures.count) real")
        var adv = 0.0, fm = 0.0
        var grads: [(logits: Tensor<T>, features: [Tensor<T>?])] = []
        for (f, rf) in zip(fake, realFeatures) {
            let dl = Tensor<T>(filled: T(-adversarialWeight) / T(f.logits.count), shape: f.logits.shape)
            adv -= Kernels.sum(f.logits.count, f.logits.data) / Double(f.logits.count)
            var dfs: [Tensor<T>?] = []
            for (a, b) in zip(rf, f.features) {
                ShapeCheck.same("AdversarialLoss", "real feature", a, "fake feature", b)
                let d = Tensor<T>(zeros: b.shape), w = T(featureWeight) / T(b.count * f.features.count)
                let (ap, bp, dp) = (a.data, b.data, d.data)
                var l1 = 0.0
                for i in 0..<b.count {
                    let diff = bp[i] - ap[i]
                    l1 += Double(abs(diff))
                    dp[i] = diff > 0 ? w : (diff < 0 ? -w : 0)
                }
                fm += l1 / Double(b.count * f.features.count)
                dfs.append(d)
            }
            grads.append((dl, dfs))
        }
        return (adv, fm, grads)
    }
}
