import TimbreLayers
import TimbreLosses
import TimbreTensor
import TimbreVAE

/// Gradient cases for losses and whole models (Float64, randomised parameters).
public enum ModelCases {
    static func noise(_ shape: [Int], _ seed: UInt64, std: Double = 1) -> Tensor<Double> {
        let t = Tensor<Double>(zeros: shape)
        var r = RandomStream(seed: seed, 23)
        r.fillNormal(t, std: std)
        return t
    }

    public static var all: [GradCase] { [mrstft(), mel(), vae()] }

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
