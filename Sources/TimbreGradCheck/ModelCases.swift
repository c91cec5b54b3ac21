import TimbreLayers
import TimbreLosses
import TimbreTensor
import TimbreDiT
import TimbreVAE

/// Gradient cases for losses and whole models (Float64, randomised parameters).
public enum ModelCases {
    static func noise(_ shape: [Int], _ seed: UInt64, std: Double = 1) -> Tensor<Double> {
        let t = Tensor<Double>(zeros: shape)
        var r = RandomStream(seed: seed, 23)
        r.fillNormal(t, std: std)
        return t
    }

    public static var all: [GradCase] { [mrstft(), mel(), vae(), dit()] }

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
        // cannot matter (SPEC §3, as Mochi).
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

    /// The whole VAE (tiny: C=2, multipliers [1, 2], strides [2, 2], D=2) under its training loss
    /// MR-STFT(recon, x) + 0.1·KL, with fixed reparameterisation noise.
    static func vae() -> GradCase { vaeCase(VAEConfig(channels: 2, multipliers: [1, 2], strides: [2, 2], latent_dim: 2, weight_norm: true),
                                            length: 32, name: "VAE tiny") }

    static func vaeCase(_ cfg: VAEConfig, length: Int, name: String) -> GradCase {
        let store = ParameterStore<Double>()
        let vae = VAE<Double>(cfg, store: store, seed: 4)
        store.randomise(seed: 8, std: 0.4)
        let loss = MRSTFTLoss<Double>(ffts: [16, 8])
        let x = noise([2, 1, length], 3, std: 0.5), eps = noise([2, 2, length / cfg.hop], 4)
        var c = GradCase("\(name), MR-STFT + 0.1·KL", tolerance: 1e-6,
                        why: "46 layers deep: 4-point stencil, h = 1e-4, so rounding noise stays far below weakly coupled gradients",
                        store: store, inputs: [],
                        forward: {
                            let (recon, kl) = vae.forward(x, eps: eps)
                            return Tensor([loss.forward(recon, x).loss + 0.1 * kl], shape: [1])
                        },
                        backward: { dy in
                            vae.backward(loss.backward(scale: dy[0]), klWeight: 0.1 * dy[0])
                            return []
                        })
        c.step = 1e-4
        c.fourPoint = true
        return c
    }
}
