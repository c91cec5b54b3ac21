import TimbreGradCheck
import TimbreLayers
import TimbreLosses
import TimbreTensor
import TimbreDiT
import TimbreDiscriminator
import TimbreVAE

/// Gradient cases for losses and whole models (Float64, randomised parameters).
public enum ModelCases {
    static func noise(_ shape: [Int], _ seed: UInt64, std: Double = 1) -> Tensor<Double> {
        let t = Tensor<Double>(zeros: shape)
        var r = RandomStream(seed: seed, 23)
        r.fillNormal(t, std: std)
        return t
    }

    public static var all: [GradCase] { [mrstft(), mel(), vae(), dit(), discriminatorGenerator(), discriminatorGenerator(periods: [2, 3]), adversarialLosses(),
                                           vaeAdversarial()] + ["transposed", "nearest", "sinc"].flatMap { u in [true, false].map { vaePitch(upsample: u, decoder: $0) } } }

    static func scaled(_ t: Tensor<Double>, _ a: Double) -> Tensor<Double> {
        let r = t.clone()
        for i in 0..<r.count { r[i] *= a }
        return r
    }

    /// A tiny multi-scale STFT discriminator (3 filters, FFT sizes 16 and 8, dilations 1 and 2),
    /// or with `periods`, period sub-discriminators alone (2 filters, so channels 2 … 16; period
    /// 3 reflect-pads 40 samples to 42), on signals of 40 samples. Parameters are drawn with std 1.5 so that signals do not shrink
    /// layer by layer (with 0.5 the first layers' gradients fell to ~1e-6, near the differences'
    /// rounding floor of ~1e-10). The periods get a case of their own: added to the scales they
    /// raised the loss and with it the differences' rounding error to 1.3–1.7e-6 of some weights'
    /// small gradients (5e-11 absolute); alone, with 3 filters, to 2.3e-6 of the widest layer's;
    /// with 2 filters the worst is 8.4e-7.
    static func tinyDiscriminator(periods: [Int] = []) -> MSSTFTDiscriminator<Double> {
        let config = periods.isEmpty ? DiscriminatorConfig(filters: 3, n_ffts: [16, 8], dilations: [1, 2])
                                     : DiscriminatorConfig(filters: 2, n_ffts: [], periods: periods)
        let d = MSSTFTDiscriminator<Double>(config, seed: 4)
        d.store.randomise(seed: 19, std: 1.5)
        return d
    }

    /// The generator's side of the adversarial stage through the whole discriminator:
    /// 0.1 · hinge adversarial + 5 · feature matching of a fake signal against fixed real
    /// features, with respect to the fake signal and every discriminator parameter.
    static func discriminatorGenerator(periods: [Int] = []) -> GradCase {
        let d = tinyDiscriminator(periods: periods)
        let real = noise([2, 1, 40], 31, std: 0.5), fake = noise([2, 1, 40], 32, std: 0.5)
        let realFeatures = d.forward(real).map { $0.features.map { $0.clone() } }
        let name = periods.isEmpty ? "MS-STFT discriminator" : "Period sub-discriminators \(periods)"
        return GradCase("\(name), generator losses (tiny)", tolerance: 1e-6,
                        why: "piecewise linear (LeakyReLU, |·|); random points lie away from the kinks",
                        store: d.store, inputs: [("fake", fake)],
                        forward: {
                            let l = AdversarialLoss.generator(fake: d.forward(fake), realFeatures: realFeatures, adversarialWeight: 0.1, featureWeight: 5)
                            return Tensor([0.1 * l.adversarial + 5 * l.featureMatching], shape: [1])
                        },
                        backward: { dy in
                            let l = AdversarialLoss.generator(fake: d.forward(fake), realFeatures: realFeatures,
                                                              adversarialWeight: 0.1 * dy[0], featureWeight: 5 * dy[0])
                            return [d.backward(l.grads).clone()]
                        })
    }

    /// The hinge losses and feature matching themselves, on logits and features as inputs
    /// (N(0, 1): most logits lie inside the hinges, some outside), for two scales: the
    /// discriminator's loss on (real, fake) logits plus the generator's 0.1 · adversarial +
    /// 5 · feature matching on the fake logits and features. (Through the whole discriminator
    /// the hinge case was degenerate: with random weights its pre-activations were mostly of
    /// one sign, so the real and fake terms of some biases cancelled exactly.)
    static func adversarialLosses() -> GradCase {
        let store = ParameterStore<Double>()
        store.finalize()
        let real = [noise([2, 1, 3, 4], 41), noise([2, 1, 5, 2], 42)], fake = [noise([2, 1, 3, 4], 43), noise([2, 1, 5, 2], 44)]
        let realF = [[noise([2, 2, 3, 4], 45), noise([2, 2, 3, 2], 46)], [noise([2, 2, 5, 2], 47)]]
        let fakeF = [[noise([2, 2, 3, 4], 48), noise([2, 2, 3, 2], 49)], [noise([2, 2, 5, 2], 50)]]
        let inputs = zip(real.indices, real).map { ("real logits \($0)", $1) } + zip(fake.indices, fake).map { ("fake logits \($0)", $1) }
            + fakeF.enumerated().flatMap { s, fs in fs.enumerated().map { ("fake feature \(s).\($0)", $1) } }
        func losses(_ scale: Double) -> (Double, [Tensor<Double>]) {
            let d = AdversarialLoss.discriminator(real: real, fake: fake)
            let g = AdversarialLoss.generator(fake: zip(fake, fakeF).map { ($0, $1) }, realFeatures: realF,
                                              adversarialWeight: 0.1 * scale, featureWeight: 5 * scale)
            let grads = d.dReal.map { scaled($0, scale) } + zip(d.dFake, g.grads).map { df, gg in
                let t = scaled(df, scale)
                for i in 0..<t.count { t[i] += gg.logits[i] }
                return t
            } + g.grads.flatMap { $0.features.map { $0! } }
            return (d.loss + 0.1 * g.adversarial + 5 * g.featureMatching, grads)
        }
        return GradCase("Adversarial losses (hinge, feature matching)", tolerance: 1e-6,
                        why: "piecewise linear; random points lie away from the kinks (|logit| = 1, equal features)",
                        store: store, inputs: inputs,
                        forward: { Tensor([losses(1).0], shape: [1]) },
                        backward: { dy in losses(dy[0]).1 })
    }

    /// The whole MM-DiT (2 layers, audio width 8, text width 6, 2 heads × 4, patch 2, D = 3) on a
    /// batch of two examples: one with every segment, one with a padded target, no reference and
    /// no description. Inputs: target and reference latents; every parameter randomised (so
    /// gates and the output projection are not zero).
    static func dit() -> GradCase {
        let store = ParameterStore<Double>()
        let cfg = DiTConfig(d_audio: 8, d_text: 6, layers: 2, heads: 2, head_dim: 4, ff_audio: 12, ff_text: 10, latent_dim: 3, patch: 2)
        let model = DiT<Double>(cfg, store: store, seed: 3)
        store.randomise(seed: 11, std: 0.4)
        let target = noise([2, 6, 3], 12), reference = noise([2, 4, 3], 13)
        let P = DiTConfig.pad, bos = DiTConfig.bos, eos = DiTConfig.eos
        let batch = DiTBatchT<Double>(target: target, targetFrames: [6, 4], reference: reference, referenceFrames: [4, 0],
                                      script: [[bos, 72, 105, 33, eos], [bos, 79, eos, P, P]],
                                      description: [[bos, 99, 97, eos], [P, P, P, P]], t: [0.3, 0.8])
        var c = GradCase("MM-DiT tiny (all segments; padding; absent segments)", tolerance: 1e-6,
                        why: "smooth; attention over masked keys, RoPE at real-valued script positions",
                        store: store, inputs: [("target", target), ("reference", reference)],
                        forward: { model.forward(batch) },
                        backward: { dy in
                            let (dt, dr) = model.backward(dy, batch: batch)
                            return [dt, dr]
                        })
        // In the last block only target tokens are read after attention, so text queries there
        // cannot matter (docs/design.md §3, as Mochi).
        c.unused = ["blocks.1.text.attn.q_norm.weight", "latent.mean", "latent.std", "corpus.bytes_per_second"]  // the statistics are buffers, applied by the task
        return c
    }

    /// The DAC mel loss (three small scales) on a prediction, against a fixed target.
    static func mel() -> GradCase {
        let store = ParameterStore<Double>()
        store.finalize()
        let loss = MelLoss<Double>(sampleRate: 16000, windows: [32, 16, 64], nMels: [5, 4, 8])
        let pred = noise([2, 1, 40], 5, std: 0.5), target = noise([2, 1, 40], 6, std: 0.5)
        return GradCase("MelLoss (DAC) 32/16/64", tolerance: 1e-6, why: "smooth away from equal log-mels and the 1e-5 clamp",
                        store: store, inputs: [("prediction", pred)],
                        forward: { Tensor([loss.forward(pred, target)], shape: [1]) },
                        backward: { [loss.backward(scale: $0[0]).clone()] })
    }

    /// The multi-resolution STFT loss on a prediction, against a fixed target.
    static func mrstft() -> GradCase {
        let store = ParameterStore<Double>()
        store.finalize()
        let loss = MRSTFTLoss<Double>(ffts: [32, 16, 8])
        let pred = noise([2, 1, 48], 1, std: 0.5), target = noise([2, 1, 48], 2, std: 0.5)
        return GradCase("MRSTFTLoss 32/16/8", tolerance: 1e-6, why: "smooth away from |log m̂ − log m| = 0 and the 1e-8 clamp",
                        store: store, inputs: [("prediction", pred)],
                        forward: { Tensor([loss.forward(pred, target).loss], shape: [1]) },
                        backward: { [loss.backward(scale: $0[0]).clone()] })
    }

    /// The VAE's loss in the adversarial stage, by the path `VAETask` trains: the tiny VAE of
    /// `vae()` (on 40 samples) under MR-STFT + 0.1·KL + 0.1·adversarial + 5·feature matching
    /// through the tiny discriminator (fixed; `MSSTFTDiscriminator.trainingStep`'s dL/d(fake)
    /// added to the MR-STFT gradient), with respect to every VAE parameter.
    static func vaeAdversarial() -> GradCase {
        vaeCase(tinyVAEConfig, length: 40, name: "VAE tiny in the adversarial stage", discriminator: tinyDiscriminator(), tolerance: 2e-6,
                why: "4-point, h = 1e-4, between two floors: the encoder's snake gradients are ~5e-6, and with the discriminator's terms in the loss h = 3e-5 gave 4.5e-6 (rounding) and h = 3e-4 crossed a LeakyReLU kink (decoder.conv_out.weight_g 2.6e-4) when the case was written; h = 1e-4 gives 7.0e-7")
    }

    /// The whole VAE (tiny: C=2, multipliers [1, 2], strides [2, 2], D=2) under its training loss
    /// MR-STFT(recon, x) + 0.1·KL, with fixed reparameterisation noise.
    static func vae() -> GradCase { vaeCase(tinyVAEConfig, length: 32, name: "VAE tiny") }

    /// The tiny VAE with pitch channels (r = 2) and a source `[2, 1, 32]` given as a fixed input
    /// (N(0, 0.1²), the real source's scale), with either upsampling: the source convolutions
    /// (`decoder.source.{0,1}`, d = 2 then 1) and the rest of the model. Checked as two cases,
    /// the decoder at h = 1e-5 and the encoder at h = 2e-4: nearest upsampling's repeat leaves the
    /// reconstruction with almost no energy at Nyquist, where the log-magnitude curves so sharply
    /// that h = 1e-4 has a truncation error of 1.8e-4 on the last block's biases (at h = 1e-5,
    /// < 1e-6), while the encoder's gradients (~1e-5) need h = 2e-4 to stay above the rounding
    /// floor (at h = 3e-5 they read 1.2–3.2e-6, at 1e-4 up to 1.1e-6). Transposed and sinc upsampling are checked the same way.
    static func vaePitch(upsample: String, decoder: Bool) -> GradCase {
        var cfg = tinyVAEConfig
        cfg.pitch = PitchConfig(per_frame: 2); cfg.upsample = upsample
        var c = vaeCase(cfg, length: 32, name: "VAE tiny with pitch source, \(upsample) upsampling, \(decoder ? "decoder" : "encoder")",
                        source: noise([2, 1, 32], 10, std: 0.1), step: decoder ? 1e-5 : 2e-4)
        c.checks = { $0.hasPrefix("decoder.") == decoder }
        return c
    }

    static let tinyVAEConfig = VAEConfig(channels: 2, multipliers: [1, 2], strides: [2, 2], latent_dim: 2, weight_norm: true)

    /// A VAE's loss MR-STFT + 0.1·KL (randomised parameters, fixed noise), with a discriminator
    /// `+ 0.1·adversarial + 5·feature matching` through it, with respect to every VAE parameter.
    static func vaeCase(_ cfg: VAEConfig, length: Int, name: String, discriminator d: MSSTFTDiscriminator<Double>? = nil,
                        source: Tensor<Double>? = nil, step: Double = 1e-4, tolerance: Double = 1e-6,
                        why: String = "46 layers deep: 4-point stencil, h = 1e-4, so rounding noise stays far below weakly coupled gradients")
        -> GradCase {
        let store = ParameterStore<Double>()
        let vae = VAE<Double>(cfg, store: store, seed: 4)
        store.randomise(seed: 8, std: 0.4)
        let loss = MRSTFTLoss<Double>(ffts: [16, 8])
        let x = noise([2, 1, length], 3, std: 0.5), eps = noise([2, cfg.latent_dim, length / cfg.hop], 4)
        /// The loss and, given `scale` = dL/dy, the gradient with respect to the reconstruction.
        func run(_ scale: Double?) -> (Double, Tensor<Double>?) {
            let (recon, kl) = vae.forward(x, eps: eps, source: source)
            var total = loss.forward(recon, x).loss + 0.1 * kl
            let g = scale.map { loss.backward(scale: $0) }
            if let d {
                let a = d.trainingStep(real: x, fake: recon, adversarialWeight: 0.1 * (scale ?? 1), featureWeight: 5 * (scale ?? 1),
                                       trainDiscriminator: false)
                total += 0.1 * a.adversarial + 5 * a.featureMatching
                if let g { Kernels.axpy(g.count, 1, a.dFake.data, g.data) }
            }
            return (total, g)
        }
        var c = GradCase(d == nil ? "\(name), MR-STFT + 0.1·KL" : "\(name), MR-STFT + 0.1·KL + 0.1·adversarial + 5·feature matching",
                         tolerance: tolerance, why: why, store: store, inputs: [],
                         forward: { Tensor([run(nil).0], shape: [1]) },
                         backward: { dy in
                             vae.backward(run(dy[0]).1!, klWeight: 0.1 * dy[0])
                             return []
                         })
        c.step = step
        c.fourPoint = true
        return c
    }
}
