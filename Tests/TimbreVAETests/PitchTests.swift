import Foundation
import XCTest
import TimbreDSP
import TimbreMetrics
import TimbreTensor
import TimbreTestSupport
import TimbreVAE

/// The pitch channels and the harmonic source of a pitch-carrying VAE (docs/pitch.md).
final class PitchTests: XCTestCase {
    /// A 16 kHz test signal: a harmonic glide 95 → 180 Hz, a silent gap, an octave-jumping
    /// stretch (one window at twice the pitch), white noise, and a second glide to the end.
    static func signal16k() -> [Float] {
        var r = RandomStream(seed: 12)
        var x: [Float] = [], phase = 0.0
        func voiced(_ seconds: Double, _ f: (Double) -> Double) {
            let n = Int(seconds * 16000)
            for i in 0..<n {
                phase += 2 * Double.pi * f(Double(i) / Double(n)) / 16000
                var s = 0.0
                for k in 1...5 { s += sin(Double(k) * phase) * 0.3 / Double(k * k) }
                x.append(Float(s))
            }
        }
        voiced(0.6) { 95 + 85 * $0 }
        x += [Float](repeating: 0, count: 3200)
        voiced(0.3) { $0 > 0.45 && $0 < 0.52 ? 300 : 150 }
        x += (0..<4000).map { _ in Float(0.2 * r.normal()) }
        voiced(0.5) { 220 - 60 * $0 }
        return x
    }

    /// `PitchTrack` (YIN at window centres, median, log-F0 interpolation) against an independent
    /// numpy implementation of the same definition; and what the definition promises.
    func testPitchTrackMatchesPythonReference() throws {
        let x = Self.signal16k()
        let centres = stride(from: -100.0, to: Double(x.count) + 100, by: 185.76).map { $0 }
        let dir = TestSupport.tempDir("pitch-track")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try TestSupport.writeF32(x, dir + "/x.f32")
        try JSONSerialization.data(withJSONObject: centres).write(to: URL(fileURLWithPath: dir + "/c.json"))
        let ref = try TestSupport.python("pitch_track_reference.py", [dir + "/x.f32", dir + "/c.json"]) as! [String: [Double]]
        let (lf0, voiced) = PitchTrack.track(x, centres: centres)
        XCTAssertEqual(lf0.count, centres.count)
        let refV = try XCTUnwrap(ref["voiced"]), refL = try XCTUnwrap(ref["lf0"])
        let disagree = zip(voiced, refV).filter { $0 != $1 }.count
        XCTAssertEqual(disagree, 0, "voicing differs from the reference on \(disagree) of \(voiced.count) values")
        let worst = zip(lf0, refL).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst, 1e-4, "log-F0 vs reference")  // Float32 sums against float64: ~1e-6
        // The definition: voiced through the glides, unvoiced in the gap and the noise; the
        // median removes the one-window octave jump; log-F0 continuous through unvoiced runs.
        let nVoiced = voiced.filter { $0 == 1 }.count
        XCTAssertGreaterThan(nVoiced, centres.count / 2)
        for j in lf0.indices { XCTAssert(exp(lf0[j]) > 80 && exp(lf0[j]) < 240, "value \(j): F0 \(exp(lf0[j]))") }
        for j in 1..<lf0.count { XCTAssertLessThan(abs(lf0[j] - lf0[j - 1]), 0.12, "jump at \(j)") }
    }

    /// Channels from a 44.1 kHz harmonic tone: 2r per frame, log-F0 at the tone's pitch, voiced;
    /// silence gives ln 100 and unvoiced. The shift moves log-F0 by ln 2 · s / 12.
    func testPitchChannelsOfATone() throws {
        let hop = 512, r = 4, F = 40
        let x: [Float] = (0..<(F * hop)).map { i in
            let ph = 2 * Double.pi * 140 * Double(i) / 44100
            return Float(0.2 * sin(ph) + 0.1 * sin(2 * ph) + 0.05 * sin(3 * ph))
        }
        var ch = try PitchChannels.compute(x, hop: hop, perFrame: r)
        XCTAssertEqual(ch.count, 2 * r * F)
        for c in 0..<r { for f in 4..<(F - 4) {
            XCTAssertEqual(Double(ch[c * F + f]), log(140), accuracy: 0.01, "lf0 channel \(c) frame \(f)")
            XCTAssertEqual(ch[(r + c) * F + f], 1, "voicing channel \(c) frame \(f)")
        } }
        PitchChannels.shift(&ch, frames: F, perFrame: r, semitones: 4)
        XCTAssertEqual(Double(ch[10]), log(140) + log(2) * 4 / 12, accuracy: 0.01)
        XCTAssertEqual(ch[r * F + 10], 1, "voicing unchanged by a shift")
        let silent = try PitchChannels.compute([Float](repeating: 0, count: 3 * hop + 7), hop: hop, perFrame: r)
        XCTAssertEqual(silent.count, 2 * r * 4, "⌈len/hop⌉ frames")
        XCTAssertEqual(Array(silent[0..<(r * 4)]), [Float](repeating: Float(log(100.0)), count: r * 4))
        XCTAssertEqual(Array(silent[(r * 4)...]), [Float](repeating: 0, count: r * 4))
    }

    /// The source: its pitch is the channels' (YIN on the rendered excitation), a shift of +4 and
    /// −4 semitones moves it by 2^(±4/12), unvoiced channels leave noise of std σ alone, and the
    /// harmonics stop below Nyquist.
    func testSourceFollowsThePitchChannels() throws {
        let hop = 512, r = 4, F = 86
        let config = PitchConfig()
        func source(f0: Double, voiced: Float, shift: Double = 0) -> [Float] {
            var ch = [Float](repeating: Float(log(f0)), count: r * F) + [Float](repeating: voiced, count: r * F)
            PitchChannels.shift(&ch, frames: F, perFrame: r, semitones: shift)
            var rng = RandomStream(seed: 1, 2)
            return ch.withUnsafeBufferPointer { PitchSource.render($0.baseAddress!, frames: F, hop: hop, config: config, noise: &rng) }
        }
        let e = source(f0: 150, voiced: 1)
        XCTAssertEqual(e.count, F * hop)
        let median = YIN.median(try ClipProsody.f0Track(e, rate: 44100))
        XCTAssertEqual(median, 150, accuracy: 1.5)
        for s in [4.0, -4.0] {
            let m = YIN.median(try ClipProsody.f0Track(source(f0: 150, voiced: 1, shift: s), rate: 44100))
            XCTAssertEqual(m / 150, pow(2, s / 12), accuracy: 0.01 * pow(2, s / 12), "shift \(s)")
        }
        let peak = e.map { abs($0) }.max()!
        XCTAssertLessThan(peak, 0.1 * 2.72 + 0.02, "a · Σ 1/k for K = 8 bounds the harmonic part")
        let quiet = source(f0: 150, voiced: 0)
        let std = (quiet.map { Double($0 * $0) }.reduce(0, +) / Double(quiet.count)).squareRoot()
        XCTAssertEqual(std, 0.003, accuracy: 0.0003, "unvoiced: σ·ξ alone")
        // 900 Hz: only harmonics below 22,050 Hz (k ≤ 24, but K = 8 caps them); at 3 kHz k ≤ 7.
        let high = source(f0: 3000, voiced: 1)
        XCTAssertFalse(high.contains { !$0.isFinite })
    }

    /// Chunked decoding of a pitch VAE equals one pass: the source is rendered once for the whole
    /// signal and sliced, so its phase runs on across chunks.
    func testChunkedPitchReconstructionMatchesOnePass() throws {
        for upsample in ["transposed", "nearest", "sinc"] {
            let cfg = VAEConfig(channels: 4, multipliers: [1, 2], strides: [2, 4], latent_dim: 4, weight_norm: true,
                                pitch: PitchConfig(per_frame: 2), upsample: upsample)
            let vae = VAE<Float>(cfg, seed: 3)
            let n = 8 * 2000 + 5
            let x: [Float] = (0..<n).map { i in Float(0.3 * sin(2 * Double.pi * 130 * Double(i) / 44100 * (1 + Double(i) / Double(n)))) }
            let z = try VAEInference.encode(vae, x)
            let F = (n + 7) / 8
            XCTAssertEqual(z.count, cfg.latentChannels * F)
            XCTAssertEqual(cfg.latentChannels, 4 + 4)
            let one = VAEInference.decode(vae, z, frames: F, chunkFrames: F)
            let chunked = VAEInference.decode(vae, z, frames: F, chunkFrames: 300)
            XCTAssertGreaterThanOrEqual(siSDR(reference: one, estimate: chunked), 60, upsample)
            let other = VAEInference.decode(vae, z, frames: F, chunkFrames: 300, seed: 1)
            XCTAssertNotEqual(one, other, "the seed draws the source's noise")
        }
    }

    func testPitchConfigValidation() throws {
        var cfg = VAEConfig(channels: 4, multipliers: [1, 2], strides: [2, 4], latent_dim: 4, pitch: PitchConfig(per_frame: 3))
        XCTAssert(cfg.validate().contains { $0.contains("per_frame") }, "3 does not divide the hop 8")
        cfg.pitch = PitchConfig(harmonics: 0)
        XCTAssert(cfg.validate().contains { $0.contains("harmonics") })
        cfg.pitch = PitchConfig(amplitude: .nan)
        XCTAssert(cfg.validate().contains { $0.contains("amplitude") })
        cfg.pitch = PitchConfig()
        cfg.upsample = "linear"
        XCTAssert(cfg.validate().contains { $0.contains("upsample") })
        cfg.upsample = "nearest"
        XCTAssertEqual(cfg.validate(), [])
    }
}
