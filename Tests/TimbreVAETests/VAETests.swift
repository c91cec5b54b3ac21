import Foundation
import XCTest
import TimbreTensor
import TimbreDSP
import TimbreGradCheck
import TimbreLosses
import TimbreMetrics
import TimbreTestSupport
import TimbreTrain
import TimbreVAE

final class VAEInferenceTests: XCTestCase {
    /// Chunked encode/decode with context margins equals the one-pass reconstruction (docs/design.md §2's
    /// "no audible seams"): SI-SDR ≥ 40 dB, here far above it.
    func testChunkedReconstructionMatchesOnePass() throws {
        let cfg = VAEConfig(channels: 4, multipliers: [1, 2], strides: [2, 4], latent_dim: 4, weight_norm: true)
        let vae = VAE<Float>(cfg, seed: 3)
        var r = RandomStream(seed: 5)
        let n = 8 * 300 + 5  // not a multiple of the hop
        let x: [Float] = (0..<n).map { Float(0.4 * sin(Double($0) * 0.05)) + Float(0.05 * r.normal()) }
        // one pass: pad to the hop, encode (z = mean), decode, trim
        let padded = Tensor<Float>(zeros: [1, 1, (n + 7) / 8 * 8])
        for i in 0..<n { padded[i] = x[i] }
        let (mean, _) = vae.encode(padded)
        let one = Array(vae.decode(mean.clone()).array.prefix(n))
        let chunked = try VAEInference.reconstruct(vae, x, chunkFrames: 20)
        XCTAssertEqual(chunked.count, n)
        XCTAssertGreaterThanOrEqual(siSDR(reference: one, estimate: chunked), 40)
        XCTAssertGreaterThan(VAEInference.margin(cfg), 0)
    }

    /// Inference mode (no saved inputs, each activation freed once read) computes exactly what the
    /// training-mode forward does, call after call, and keeps only the result's buffer.
    func testInferenceModeMatchesTrainingForward() {
        // channels 8: the convolutions run on ConvKernel, each activation fused into it in inference
        // (a sinc decoder applies its block's activation before interpolating instead)
        for upsample in ["transposed", "sinc"] {
        let cfg = VAEConfig(channels: 8, multipliers: [1, 2], strides: [2, 4], latent_dim: 4, weight_norm: true, upsample: upsample)
        let train = VAE<Float>(cfg, seed: 3), infer = VAE<Float>(cfg, seed: 3)
        infer.inferenceMode()
        var r = RandomStream(seed: 9)
        for length in [8 * 40, 8 * 25] {
            let x = Tensor<Float>(zeros: [2, 1, length])
            r.fillNormal(x)
            let (m1, s1) = train.encode(x), (m2, s2) = infer.encode(x)
            XCTAssertEqual(m1.array, m2.array); XCTAssertEqual(s1.array, s2.array)
            let z = m1.clone()
            let y1 = train.decode(z).array, y2 = infer.decode(z).array
            XCTAssertEqual(y1, y2, upsample)
            XCTAssertGreaterThan(y1.map(abs).max() ?? 0, 0)
        }
        }
    }

    /// Float32 gradients of a whole VAE whose convolutions run on `ConvKernel` (channels that are
    /// multiples of 8; 2,048 samples, so chunks end in columns past a multiple of 32) equal the
    /// Float64 ones, which run on BLAS, to float rounding: same parameters, input and noise.
    func testFloatGradientsMatchFloat64() {
        let cfg = VAEConfig(channels: 8, multipliers: [1, 2], strides: [2, 4], latent_dim: 8, weight_norm: true)
        let storeD = ParameterStore<Double>(), storeF = ParameterStore<Float>()
        let vaeD = VAE<Double>(cfg, store: storeD, seed: 4), vaeF = VAE<Float>(cfg, store: storeF, seed: 4)
        storeD.randomise(seed: 8, std: 0.3)
        storeF.values.copy(from: storeD.values.converted(to: Float.self))
        storeD.values.copy(from: storeF.values.converted(to: Double.self))
        let x = Tensor<Double>(zeros: [2, 1, 2045 + 3]), eps = Tensor<Double>(zeros: [2, 8, 2048 / 8])
        var r = RandomStream(seed: 6)
        r.fillNormal(x); r.fillNormal(eps)
        for i in 0..<x.count { x[i] = Double(Float(0.4 * x[i])) }
        for i in 0..<eps.count { eps[i] = Double(Float(eps[i])) }
        let lD = Self.step(vaeD, storeD, MRSTFTLoss(ffts: [512, 128, 32]), x, eps)
        let lF = Self.step(vaeF, storeF, MRSTFTLoss(ffts: [512, 128, 32]), x.converted(to: Float.self), eps.converted(to: Float.self))
        XCTAssertEqual(lF, lD, accuracy: 1e-5 * abs(lD))
        var worst = (0.0, "")
        for p in storeD.params {
            let g = storeD.grads.array[p.offset..<p.offset + p.count], h = storeF.grads.array[p.offset..<p.offset + p.count]
            var d = 0.0, n = 0.0
            for (a, b) in zip(g, h) { d += (a - Double(b)) * (a - Double(b)); n += a * a }
            let rel = (d / max(n, 1e-300)).squareRoot()
            if rel > worst.0 { worst = (rel, p.name) }
        }
        print("VAE Float vs Float64 gradients: worst relative error \(worst.0) (\(worst.1))")
        XCTAssertLessThan(worst.0, 1e-3, "worst: \(worst.1)")
    }

    /// One training step's loss (MR-STFT + 0.1·KL), its gradients left in `store`.
    static func step<T: FFTScalar>(_ vae: VAE<T>, _ store: ParameterStore<T>, _ loss: MRSTFTLoss<T>,
                                   _ x: Tensor<T>, _ eps: Tensor<T>) -> Double {
        store.zeroGrads()
        let (recon, kl) = vae.forward(x, eps: eps)
        let l = loss.forward(recon, x).loss + 0.1 * kl
        vae.backward(loss.backward(), klWeight: 0.1)
        return l
    }

    /// No training step reads memory it did not write. With `StoragePool.poison` every buffer
    /// handed out with unspecified contents (new or a reused workspace) is NaN first; three steps
    /// (the later ones reuse every workspace) give exactly the losses and gradients they give
    /// without it. Channels 8 and 16, so every convolution runs on `ConvKernel`.
    func testTrainingStepsReadNoUninitialisedMemory() {
        func run() -> (losses: [Double], grads: [Float]) {
            let cfg = VAEConfig(channels: 8, multipliers: [1, 2], strides: [2, 4], latent_dim: 8, weight_norm: true)
            let store = ParameterStore<Float>()
            let vae = VAE<Float>(cfg, store: store, seed: 4)
            var rp = RandomStream(seed: 8)
            rp.fillNormal(store.values, std: 0.3)
            let loss = MRSTFTLoss<Float>(ffts: [512, 128, 32])
            var r = RandomStream(seed: 6)
            var losses: [Double] = [], grads: [Float] = []
            for length in [2048, 2048, 1024] {  // the third shrinks every workspace
                let x = Tensor<Float>(zeros: [2, 1, length]), eps = Tensor<Float>(zeros: [2, 8, length / 8])
                r.fillNormal(x); r.fillNormal(eps)
                losses.append(Self.step(vae, store, loss, x, eps))
                grads += store.grads.array
            }
            return (losses, grads)
        }
        let clean = run(), poisoned = StoragePool.withPoison(run)
        XCTAssertEqual(poisoned.losses, clean.losses)
        let i = TestSupport.firstDifference(poisoned.grads, clean.grads)
        XCTAssertNil(i, "gradient \(i ?? 0): \(poisoned.grads[i ?? 0]) with poison, \(clean.grads[i ?? 0]) without")
        XCTAssertTrue(clean.grads.contains { $0 != 0 })
    }

    /// The data-dependent initialisation leaves the latent means with zero mean and unit std per
    /// channel over the batch it saw, and a posterior std of softplus(−4) + 1e-4.
    func testLatentScaleInitialisation() {
        for wn in [true, false] {
            let cfg = VAEConfig(channels: 4, multipliers: [1, 2], strides: [2, 4], latent_dim: 3, weight_norm: wn)
            let vae = VAE<Float>(cfg, seed: 9)
            var r = RandomStream(seed: 2)
            let x = Tensor<Float>(zeros: [2, 1, 8 * 64])
            for i in 0..<x.count { x[i] = Float(0.3 * sin(Double(i) * 0.07) + 0.1 * r.normal()) }
            let before = vae.initialiseLatentScale(x)
            XCTAssertTrue(before.allSatisfy { $0 < 0.5 }, "default init gives small latents: \(before)")
            let (mean, scale) = vae.encode(x)
            let F = mean.shape[2]
            for c in 0..<3 {
                var v: [Double] = []
                for b in 0..<2 { for f in 0..<F { v.append(Double(mean[(b * 3 + c) * F + f])) } }
                let m = v.reduce(0, +) / Double(v.count)
                let sd = (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count)).squareRoot()
                XCTAssertEqual(m, 0, accuracy: 1e-4); XCTAssertEqual(sd, 1, accuracy: 1e-3)
            }
            // The scale half still starts near −4 (its bias; the weights add a little).
            let avg = (0..<scale.count).reduce(0.0) { $0 + Double(scale[$1]) } / Double(scale.count)
            XCTAssertEqual(avg, VAE<Float>.initialScaleBias, accuracy: 0.5)
        }
    }

    func testSISDR() {
        let s: [Float] = (0..<1000).map { Float(sin(Double($0) * 0.1)) }
        XCTAssertGreaterThan(siSDR(reference: s, estimate: s.map { 0.5 * $0 }), 80, "scale-invariant")
        let noisy = s.enumerated().map { $1 + ($0 % 2 == 0 ? 0.1 : -0.1) }
        XCTAssertEqual(siSDR(reference: s, estimate: noisy), 10 * log10(0.5 / 0.01), accuracy: 0.2)
    }
}


/// Loss values against Tests/python/dsp_golden.py (numpy re-implementations of auraloss 0.4.0's
/// MultiResolutionSTFTLoss and DAC's mel loss) on a pair both sides generate from one formula.
final class LossGoldenTests: XCTestCase {
    func testMRSTFTAndMelDistanceMatchReferences() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("python/dsp_golden.json")
        let g = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let x = Tensor<Double>(zeros: [1, 1, 4096]), y = Tensor<Double>(zeros: [1, 1, 4096])
        for i in 0..<4096 {
            let t = Double(i) / 44100
            let xv = Float(0.4 * sin(2 * .pi * 440 * t) + 0.2 * sin(2 * .pi * 1234.5 * t + 0.3))
            x[i] = Double(xv)
            y[i] = Double(Float(0.8 * Double(xv) + 0.05 * cos(2 * .pi * 3000 * t)))
        }
        XCTAssertEqual(MRSTFTLoss<Double>().forward(y, x).loss, g["mrstft_pair"] as! Double, accuracy: 1e-6)
        XCTAssertEqual(MelLoss<Double>(sampleRate: 44100).forward(y, x), g["mel_distance_pair"] as! Double, accuracy: 1e-6)
        // Float32 (training precision) agrees to 1e-4 relative
        XCTAssertEqual(MRSTFTLoss<Float>().forward(y.converted(to: Float.self), x.converted(to: Float.self)).loss,
                       g["mrstft_pair"] as! Double, accuracy: 1e-4)
    }
}

final class VAEDecoderSensitivityTests: XCTestCase {
    /// At the vae-small size (32 channels, hop 2048, 16 latent frames per crop) the decoder's
    /// output depends on z: zero latents, the latents and doubled latents give different outputs.
    func testDecoderOutputDependsOnLatents() {
        let cfg = VAEConfig(channels: 32, multipliers: [1, 2, 4, 8, 16], strides: [2, 4, 4, 8, 8], latent_dim: 32, weight_norm: true)
        let vae = VAE<Float>(cfg, seed: 1)
        var r = RandomStream(seed: 3)
        let z = Tensor<Float>(zeros: [1, 32, 16])
        r.fillNormal(z)
        func decode(_ k: Float) -> [Float] {
            let zz = Tensor<Float>(zeros: z.shape)
            for i in 0..<z.count { zz[i] = k * z[i] }
            return vae.decode(zz).array
        }
        let y0 = decode(0), y1 = decode(1), y2 = decode(2)
        func rms(_ a: [Float], _ b: [Float]) -> Double { (zip(a, b).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(a.count)).squareRoot() }
        let level = (y1.reduce(0.0) { $0 + Double($1 * $1) } / Double(y1.count)).squareRoot()
        print("decoder output rms \(level), |y1 - y0| \(rms(y1, y0)), |y2 - y1| \(rms(y2, y1))")
        XCTAssertGreaterThan(rms(y1, y0), 0.01 * level)
        XCTAssertGreaterThan(rms(y2, y1), 0.01 * level)
    }
}
