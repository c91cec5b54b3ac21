import Foundation
import TimbreAudio
import TimbreFormats
import TimbreLayers
import TimbreTensor
import TimbreCheckpoint

/// Loading a trained VAE and running it on audio of any length.
public enum VAEInference {
    /// A VAE from a checkpoint (directory or training directory): the config from its recipe,
    /// EMA weights when present (docs/design.md §3.6's rule applies to the VAE too), else the model's.
    /// Returns the model and the SHA-256 of the checkpoint's `model.safetensors`.
    /// A released model folder (`timbre export`) loads too: its fp16/fp32 `model.safetensors`,
    /// hash checked against `release.json`.
    public static func load(_ ck: String) throws -> (vae: VAE<Float>, path: String, modelHash: String) {
        let (path, config, weights, hash) = try Checkpoints.forInference(ck, modelType: "vae", model: VAEConfig.self)
        let vae = VAE<Float>(config)
        try Checkpoints.loadTensors(weights, into: vae.store.values, store: vae.store)
        vae.inferenceMode()
        return (vae, path, hash)
    }

    /// Latent frames of context needed on each side of a chunk: the receptive radius of the
    /// encoder (or decoder) in samples, over the hop, plus 2.
    public static func margin(_ c: VAEConfig) -> Int {
        let k = c.kernelSize
        var r = (k - 1) / 2, h = 1
        // a sinc-interpolating decoder block also reaches W input samples each side
        let interpolation = c.interpolatedUpsampling == .sinc ? NearestUpsampleConv<Float>.sincHalfWidth : 0
        for s in c.strides {
            r += h * (c.dilationList.reduce(0, +) * (k - 1) / 2 + 2 * s + interpolation * s)
            h *= s
        }
        r += h * (1 + (k - 1) / 2)
        return r / c.hop + 2
    }

    /// Encodes a 44.1 kHz signal to latents `[D′, F]` (F = ⌈T/hop⌉; the input is zero-padded to a
    /// multiple of the hop): the means of the D learned channels, computed in chunks of
    /// `chunkFrames` latent frames with `margin` frames (default: `margin(config)`) of real context
    /// on each side, so memory stays bounded and the result equals one pass up to rounding (the
    /// encoder's receptive field is far below the margin); for a pitch VAE followed by the 2r pitch
    /// channels of the whole signal (D′ = D + 2r).
    public static func encode(_ vae: VAE<Float>, _ x: [Float], chunkFrames: Int = 64, margin: Int? = nil,
                              progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> [Float] {
        let margin = margin ?? Self.margin(vae.config)
        let hop = vae.hop, D = vae.config.latent_dim
        let F = (x.count + hop - 1) / hop
        var out = [Float](repeating: 0, count: D * F)
        var f0 = 0
        while f0 < F {
            let f1 = min(F, f0 + chunkFrames)
            let a = max(0, f0 - margin), b = min(F, f1 + margin)
            let input = Tensor<Float>(zeros: [1, 1, (b - a) * hop])
            let lo = a * hop, hi = min(x.count, b * hop)
            if hi > lo { x.withUnsafeBufferPointer { (input.data).update(from: $0.baseAddress! + lo, count: hi - lo) } }
            let (mean, _) = vae.encode(input)
            for d in 0..<D { for f in f0..<f1 { out[d * F + f] = mean[d * (b - a) + (f - a)] } }
            f0 = f1
            progress?(f0, F)
        }
        if let pitch = vae.config.pitch { out += try PitchChannels.compute(x, hop: hop, perFrame: pitch.perFrame) }
        return out
    }

    /// Decodes latents `[D′, F]` to `F·hop` samples in chunks with `margin` frames of context. A
    /// pitch VAE's source is rendered once from the pitch channels (moved by `pitchShift`
    /// semitones) with noise from `seed`, so its phase runs on across chunks, and each chunk
    /// decodes with its slice.
    public static func decode(_ vae: VAE<Float>, _ z: [Float], frames F: Int, chunkFrames: Int = 256, margin: Int? = nil,
                              pitchShift: Double = 0, seed: UInt64 = 0, progress: ((_ done: Int, _ total: Int) -> Void)? = nil) -> [Float] {
        let margin = margin ?? Self.margin(vae.config)
        let hop = vae.hop, D = vae.config.latent_dim
        precondition(z.count == vae.config.latentChannels * F, "VAEInference.decode: \(z.count) values for \(F) frames of \(vae.config.latentChannels) channels")
        var source: [Float]?
        if let pitch = vae.config.pitch {
            var ch = Array(z[(D * F)...])
            if pitchShift != 0 { PitchChannels.shift(&ch, frames: F, perFrame: pitch.perFrame, semitones: pitchShift) }
            var rng = RandomStream(seed: seed, sourceNoisePurpose)
            source = ch.withUnsafeBufferPointer { PitchSource.render($0.baseAddress!, frames: F, hop: hop, config: pitch, noise: &rng) }
        }
        var out = [Float](repeating: 0, count: F * hop)
        var f0 = 0
        while f0 < F {
            let f1 = min(F, f0 + chunkFrames)
            let a = max(0, f0 - margin), b = min(F, f1 + margin)
            let zin = Tensor<Float>(zeros: [1, D, b - a])
            for d in 0..<D { for f in a..<b { zin[d * (b - a) + (f - a)] = z[d * F + f] } }
            let e = source.map { s in
                let t = Tensor<Float>(zeros: [1, 1, (b - a) * hop])
                s.withUnsafeBufferPointer { t.data.update(from: $0.baseAddress! + a * hop, count: (b - a) * hop) }
                return t
            }
            let y = vae.decode(zin, source: e)
            for t in (f0 * hop)..<(f1 * hop) { out[t] = y[t - a * hop] }
            f0 = f1
            progress?(f0, F)
        }
        return out
    }

    /// The stream of the source's noise in inference (keyed by the seed alone).
    static let sourceNoisePurpose: UInt64 = 0x50C

    /// Reconstructs a signal (trimmed back to its length), its pitch moved by `pitchShift`
    /// semitones (pitch VAEs only).
    public static func reconstruct(_ vae: VAE<Float>, _ x: [Float], chunkFrames: Int = 256, margin: Int? = nil,
                                   pitchShift: Double = 0, seed: UInt64 = 0, progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> [Float] {
        let F = (x.count + vae.hop - 1) / vae.hop
        // Progress counts latent frames: encoded, then decoded (2F in all).
        let z = try encode(vae, x, chunkFrames: chunkFrames, margin: margin) { done, _ in progress?(done, 2 * F) }
        return Array(decode(vae, z, frames: F, chunkFrames: chunkFrames, margin: margin, pitchShift: pitchShift, seed: seed) { done, _ in
            progress?(F + done, 2 * F)
        }.prefix(x.count))
    }
}
