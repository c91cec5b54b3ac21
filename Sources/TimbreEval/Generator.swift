import Foundation
import TimbreAudio
import TimbreDiT
import TimbreTensor
import TimbreVAE

/// An MM-DiT with the VAE its latents come from: audio → normalised latents → generation → audio.
public final class SpeechGenerator {
    public let model: DiT<Float>
    public let vae: VAE<Float>
    public var D: Int { model.config.latent_dim }
    public var hop: Int { vae.hop }

    public init(checkpoint: String, vae vaePath: String) throws {
        (model, _) = try DiTInference.load(checkpoint)
        (vae, _, _) = try VAEInference.load(vaePath)
        guard vae.config.latentChannels == model.config.latent_dim else {
            throw EvalError.invalid(vaePath, "has \(vae.config.latentChannels) latent channels; the MM-DiT at \(checkpoint) expects \(model.config.latent_dim)")
        }
    }

    /// Normalised latents `[F, D]` of 44.1 kHz audio.
    public func latents(_ x: [Float]) throws -> [Float] {
        let z = try VAEInference.encode(vae, x)
        let F = z.count / D
        var out = [Float](repeating: 0, count: F * D)
        for f in 0..<F { for d in 0..<D { out[f * D + d] = (z[d * F + f] - model.latentMean.value[d]) / model.latentStd.value[d] } }
        return out
    }

    /// 44.1 kHz audio of normalised latents `[F, D]`.
    public func audio(_ z: [Float]) -> [Float] {
        let F = z.count / D
        var zd = [Float](repeating: 0, count: D * F)
        for f in 0..<F { for d in 0..<D { zd[d * F + f] = z[f * D + d] * model.latentStd.value[d] + model.latentMean.value[d] } }
        return VAEInference.decode(vae, zd, frames: F)
    }

    /// Latent frames for `seconds`, or for the script at the training corpus's bytes per second.
    public func frames(seconds: Double?, script: String) -> Int {
        let s = seconds ?? Double(script.utf8.count) / Double(model.corpusRate.value[0])
        return max(1, Int((s * Double(Audio.modelRate) / Double(hop)).rounded()))
    }

    /// `progress` gets (ODE steps done, steps).
    public func generate(_ c: Conditions, frames: Int, options: SamplerOptions, progress: ((Int, Int) -> Void)? = nil) -> [Float] {
        audio(DiTSampler.sample(model, c, frames: frames, options: options, progress: progress))
    }
}
