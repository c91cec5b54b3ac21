import Foundation
import XCTest
import TimbreTensor
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
