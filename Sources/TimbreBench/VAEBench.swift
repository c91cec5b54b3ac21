import Foundation
import TimbreAudio
import TimbreLayers
import TimbreLosses
import TimbreTensor
import TimbreTrain
import TimbreVAE

/// `timbre bench vae`: one VAE training step (forward, MR-STFT + KL loss, backward, AdamW) in
/// GFLOP/s under docs/design.md §1's rule, against the same run's sgemm rate; decode real-time factor.
public enum VAEBench {
    /// FLOPs of one forward pass (2 per multiply-add of every conv) for input length T per example
    /// (sinc interpolation's own multiply-adds, per channel, are not counted).
    public static func forwardFLOPs(_ c: VAEConfig, batch: Int, samples T: Int) -> Double {
        encoderFLOPs(c, batch: batch, samples: T) + decoderFLOPs(c, batch: batch, frames: T / c.hop)
    }

    static func encoderFLOPs(_ c: VAEConfig, batch B: Int, samples T: Int) -> Double {
        let C = c.channels, m = c.m, k = c.kernelSize
        var f = 2.0 * Double(C * m[0] * 1 * k * T)
        var t = T
        for i in 1...c.strides.count {
            let ch = C * m[i - 1]
            f += Double(c.dilationList.count) * 2 * Double(ch * ch * k * t + ch * ch * t)
            let s = c.strides[i - 1]
            t /= s
            f += 2.0 * Double(ch * C * m[i] * 2 * s * t)
        }
        f += 2.0 * Double(C * m[c.strides.count] * 2 * c.latent_dim * 3 * t)
        return f * Double(B)
    }

    static func decoderFLOPs(_ c: VAEConfig, batch B: Int, frames F: Int) -> Double {
        let C = c.channels, m = c.m, k = c.kernelSize, L = c.strides.count
        var t = F
        var f = 2.0 * Double(c.latent_dim * C * m[L] * k * t)
        let T = F * c.hop
        for i in (1...L).reversed() {
            let s = c.strides[i - 1], ch = C * m[i - 1]
            // k = 2s: a transposed convolution reads 2s taps per input sample; interpolation
            // (nearest, sinc) is followed by a convolution with 2s taps per output sample.
            f += 2.0 * Double(C * m[i] * ch * 2 * s * (c.interpolatedUpsampling == nil ? t : t * s))
            t *= s
            // with pitch, the source's strided injection: 2d taps per output sample, d = T / t
            if c.pitch != nil { f += 2.0 * Double(ch * 2 * (T / t) * t) }
            f += Double(c.dilationList.count) * 2 * Double(ch * ch * k * t + ch * ch * t)
        }
        f += 2.0 * Double(C * m[0] * 1 * k * t)
        return f * Double(B)
    }

    public struct Result: Sendable {
        public var stepSeconds: Double, flopsPerStep: Double, sgemm: Double
        /// Best of 3 decodes, and the first one (its buffers fresh from the kernel, as in a one-shot `timbre generate`).
        public var decodeSeconds: Double, coldDecodeSeconds: Double
        /// Minor page faults per training step after the warm-up step (fresh pages the kernel zeroes).
        public var faultsPerStep: Double
        public var decodedSeconds: Double
        /// Parts of the step: model forward, loss forward + backward, model backward, optimizer.
        public var parts: [(String, Double)]
        /// With `byLayer`: `LayerTimes` rows over `steps` steps.
        public var layerRows: [LayerTimes.Row] = []
        public var gflops: Double { 3 * flopsPerStep / stepSeconds / 1e9 }
        public var ratio: Double { gflops / sgemm }
        public var decodeRTF: Double { decodeSeconds / decodedSeconds }
    }

    public static func run(_ c: VAEConfig, batch: Int, samples: Int, steps: Int, sgemm: Double, byLayer: Bool = false) throws -> Result {
        let store = ParameterStore<Float>()
        let vae = VAE<Float>(c, store: store, seed: 1)
        let opt = AdamW(store, AdamWConfig(lr: 1e-4))
        let loss = MRSTFTLoss<Float>()
        let x = Tensor<Float>(zeros: [batch, 1, samples])
        var r = RandomStream(seed: 3)
        for i in 0..<x.count { x[i] = Float(0.3 * sin(Double(i) * 0.01 * (1 + Double(i % 7))) + 0.05 * r.normal()) }
        let eps = Tensor<Float>(zeros: [batch, c.latent_dim, samples / c.hop])
        r.fillNormal(eps)
        // A pitch VAE's decoder also takes the excitation rendered from the input's pitch track;
        // it is made once here (training tracks each crop's pitch in its step: `bench vae --data`).
        let source: Tensor<Float>? = try c.pitch.map { p in
            PitchSource.render(batch: try PitchChannels.compute(batch: x, hop: c.hop, perFrame: p.perFrame), hop: c.hop, config: p) { RandomStream(seed: 5, UInt64($0)) }
        }
        func step() {
            store.zeroGrads()
            let (recon, _) = vae.forward(x, eps: eps, source: source)
            _ = loss.forward(recon, x)
            vae.backward(loss.backward(), klWeight: 1e-4)
            opt.update(lr: 1e-4)
        }
        step()  // warm-up: every buffer allocated
        let f0 = Bench.minorFaults()
        let t = Bench.time(repeats: steps, warmup: 0, step)
        let faultsPerStep = Double(Bench.minorFaults() - f0) / Double(steps)
        // the same step again, timed by part (best of `steps`)
        var best = [Double](repeating: .infinity, count: 4)
        for _ in 0..<steps {
            store.zeroGrads()
            let t0 = Bench.now()
            let (recon, _) = vae.forward(x, eps: eps, source: source)
            let t1 = Bench.now()
            _ = loss.forward(recon, x)
            let d = loss.backward()
            let t2 = Bench.now()
            vae.backward(d, klWeight: 1e-4)
            let t3 = Bench.now()
            opt.update(lr: 1e-4)
            let t4 = Bench.now()
            for (i, v) in [t1 - t0, t2 - t1, t3 - t2, t4 - t3].enumerated() { best[i] = min(best[i], v) }
        }
        let layerRows = byLayer ? LayerTimes.record { for _ in 0..<steps { step() } } : []
        // decode 10 s of audio (latents of 441,000 samples rounded to the hop)
        let frames = 441_000 / c.hop
        let z = Tensor<Float>(zeros: [1, c.latent_dim, frames])
        r.fillNormal(z)
        // With pitch: a steady 120 Hz voiced track, rendered once (as generation renders it from
        // the generated pitch channels).
        let decodeSource: Tensor<Float>? = c.pitch.map { p in
            let ch = Tensor<Float>(zeros: [1, 2 * p.perFrame, frames])
            for f in 0..<frames { for j in 0..<p.perFrame { ch[j * frames + f] = Float(log(120.0)); ch[(p.perFrame + j) * frames + f] = 1 } }
            return PitchSource.render(batch: ch, hop: c.hop, config: p) { RandomStream(seed: 6, UInt64($0)) }
        }
        let decoder = VAE<Float>(c, seed: 1)  // as `timbre generate` loads it: inference mode, nothing allocated yet
        decoder.inferenceMode()
        let c0 = Bench.now()
        _ = decoder.decode(z, source: decodeSource)
        let cold = Bench.now() - c0
        let td = Bench.time(repeats: 3, warmup: 0) { _ = decoder.decode(z, source: decodeSource) }
        return Result(stepSeconds: t, flopsPerStep: forwardFLOPs(c, batch: batch, samples: samples), sgemm: sgemm,
                      decodeSeconds: td, coldDecodeSeconds: cold, faultsPerStep: faultsPerStep, decodedSeconds: Double(frames * c.hop) / Double(Audio.modelRate),
                      parts: zip(["model forward", "MR-STFT loss fwd+bwd", "model backward", "AdamW"], best).map { ($0, $1) },
                      layerRows: layerRows)
    }
}
