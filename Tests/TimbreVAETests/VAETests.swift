import Foundation
import XCTest
import TimbreTensor
import TimbreMetrics
import TimbreTrain
import TimbreVAE

final class VAEInferenceTests: XCTestCase {
    /// Chunked encode/decode with context margins equals the one-pass reconstruction (SPEC §2's
    /// "no audible seams"): SI-SDR ≥ 40 dB, here far above it.
    func testChunkedReconstructionMatchesOnePass() {
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
        let chunked = VAEInference.reconstruct(vae, x, chunkFrames: 20)
        XCTAssertEqual(chunked.count, n)
        XCTAssertGreaterThanOrEqual(siSDR(reference: one, estimate: chunked), 40)
        XCTAssertGreaterThan(VAEInference.margin(cfg), 0)
    }

    func testSISDR() {
        let s: [Float] = (0..<1000).map { Float(sin(Double($0) * 0.1)) }
        XCTAssertGreaterThan(siSDR(reference: s, estimate: s.map { 0.5 * $0 }), 80, "scale-invariant")
        let noisy = s.enumerated().map { $1 + ($0 % 2 == 0 ? 0.1 : -0.1) }
        XCTAssertEqual(siSDR(reference: s, estimate: noisy), 10 * log10(0.5 / 0.01), accuracy: 0.2)
    }
}

import TimbreLosses

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
        XCTAssertEqual(MelLoss<Double>().forward(y, x), g["mel_distance_pair"] as! Double, accuracy: 1e-6)
        // Float32 (training precision) agrees to 1e-4 relative
        XCTAssertEqual(MRSTFTLoss<Float>().forward(y.converted(to: Float.self), x.converted(to: Float.self)).loss,
                       g["mrstft_pair"] as! Double, accuracy: 1e-4)
    }
}
