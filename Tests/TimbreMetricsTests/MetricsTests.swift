import Foundation
import XCTest
import TimbreAudio
import TimbreMetrics
import TimbreTestSupport

/// The metrics against outside reference implementations (Tests/python/metrics_reference.py:
/// pystoi for STOI/ESTOI, numpy for SI-SDR), on an espeak-ng clip the test synthesises and
/// degraded versions of it, at 44.1 kHz, 16 kHz and 10 kHz (no resampling).
final class MetricsTests: XCTestCase {
    /// Deterministic uniform noise in [-1, 1).
    static func noise(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Double(s >> 11) / Double(1 << 53) * 2 - 1)
        }
    }

    static func degraded(_ x: [Float]) -> [(String, [Float])] {
        let n = x.count
        let power = x.reduce(0.0) { $0 + Double($1 * $1) } / Double(n)
        let w = noise(n, seed: 7)
        let noiseScale = Float((power / (1.0 / 3)).squareRoot())  // uniform noise power 1/3 → 0 dB SNR
        let noisy = (0..<n).map { x[$0] + noiseScale * w[$0] }
        let quiet = (0..<n).map { x[$0] + 0.1 * noiseScale * w[$0] }
        let drowned = (0..<n).map { x[$0] + 10 * noiseScale * w[$0] }
        var smeared = [Float](repeating: 0, count: n)  // 12-sample moving average (a low-pass)
        for i in 0..<n { var s: Float = 0; for k in 0..<12 where i >= k { s += x[i - k] }; smeared[i] = s / 12 }
        let ir = noise(n / 20, seed: 3).enumerated().map { $0.element * Float(exp(-Double($0.offset) / Double(n / 100))) }
        var reverb = [Float](repeating: 0, count: n)  // a decaying-noise room, sparse taps
        for (k, h) in ir.enumerated() where k % 37 == 0 { for i in k..<n { reverb[i] += 0.3 * h * x[i - k] } }
        let shifted = [Float](repeating: 0, count: 150) + x.dropLast(150)
        return [("same", x), ("noisy0dB", noisy), ("noisy20dB", quiet), ("noisy-20dB", drowned), ("lowpass", smeared), ("reverb", reverb),
                ("shifted", shifted), ("scaled", x.map { -0.25 * $0 })]
    }

    func testAgainstPystoiAndNumpy() throws {
        let dir = TestSupport.tempDir("metrics")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try TestSupport.run("espeak-ng", ["-v", "en-us", "-w", dir + "/clip.wav",
                                          "The quick brown fox jumps over the lazy dog, then sleeps."])
        let a = try AudioFile.read(dir + "/clip.wav")
        var worst: [String: Double] = [:]
        defer { print("metrics vs references, worst abs. difference: " + worst.keys.sorted().map { "\($0) \(String(format: "%.2e", worst[$0]!))" }.joined(separator: ", ")) }
        for rate in [44_100, 16_000, 10_000] {
            let clean = try Resampler.resample(a.samples, from: a.sampleRate, to: rate)
            let cases = Self.degraded(clean)
            try TestSupport.writeF32(clean, dir + "/clean.f32")
            var paths: [String] = []
            for (name, y) in cases {
                paths.append(dir + "/\(name)-\(rate).f32")
                try TestSupport.writeF32(y, paths.last!)
            }
            let ref = try TestSupport.python("metrics_reference.py", [String(rate), dir + "/clean.f32"] + paths) as! [String: [String: Double]]
            for ((name, y), path) in zip(cases, paths) {
                let r = ref[path]!
                let s = try XCTUnwrap(STOI.score(clean: clean, processed: y, rate: rate))
                let e = try XCTUnwrap(STOI.score(clean: clean, processed: y, rate: rate, extended: true))
                worst["stoi"] = max(worst["stoi"] ?? 0, abs(s - r["stoi"]!)); worst["estoi"] = max(worst["estoi"] ?? 0, abs(e - r["estoi"]!))
                worst["si_sdr"] = max(worst["si_sdr"] ?? 0, abs(siSDR(reference: clean, estimate: y) - r["si_sdr"]!))
                worst["stft"] = max(worst["stft"] ?? 0, abs(Reconstruction.stftDistance(reference: clean, estimate: y) - r["stft"]!))
                XCTAssertEqual(s, r["stoi"]!, accuracy: 1e-6, "STOI \(name) at \(rate) Hz")
                XCTAssertEqual(e, r["estoi"]!, accuracy: 1e-6, "ESTOI \(name) at \(rate) Hz")
                XCTAssertEqual(siSDR(reference: clean, estimate: y), r["si_sdr"]!, accuracy: 1e-3 * max(1, abs(r["si_sdr"]!)), "SI-SDR \(name) at \(rate) Hz")
                XCTAssertEqual(Reconstruction.stftDistance(reference: clean, estimate: y), r["stft"]!, accuracy: 1e-4 * max(1, r["stft"]!), "STFT distance \(name) at \(rate) Hz")
                if rate == 44_100 {
                    let all = Reconstruction.measure(reference: clean, estimate: y, sampleRate: rate)
                    worst["mel"] = max(worst["mel"] ?? 0, abs(all["mel"]! - r["mel"]!)); worst["mrstft"] = max(worst["mrstft"] ?? 0, abs(all["mrstft"]! - r["mrstft"]!))
                    XCTAssertEqual(all["mel"]!, r["mel"]!, accuracy: 1e-4 * max(1, r["mel"]!), "mel distance \(name)")
                    XCTAssertEqual(all["mrstft"]!, r["mrstft"]!, accuracy: 1e-4 * max(1, r["mrstft"]!), "MR-STFT distance \(name)")
                    XCTAssertEqual(all["stoi"]!, s, accuracy: 1e-12)
                }
            }
            // The cases must span the scale, or agreement proves little.
            let stois = cases.map { STOI.score(clean: clean, processed: $0.1, rate: rate)! }
            XCTAssertGreaterThan(stois.max()! - stois.min()!, 0.3, "\(stois)")
        }
    }

    /// The Swift GE2E encoder against an independent numpy implementation (Tests/python/ge2e_reference.py)
    /// with the same weights (Recipes/setup.sh fetches them), on espeak-ng clips of different voices
    /// and lengths (one partial window and several).
    func testSpeakerEncoderMatchesNumpy() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let weights = repo + "/" + SpeakerEncoder.defaultWeights
        let enc = try SpeakerEncoder(weights: weights)
        let dir = TestSupport.tempDir("ge2e")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let texts = [("en-us", "Hello there."), ("en-gb+f3", "Speaker identity is measured on longer sentences like this one, spoken slowly."),
                     ("en-us+m3", "A third voice reads a third sentence for comparison.")]
        var paths: [String] = [], clips: [[Float]] = []
        for (i, (voice, text)) in texts.enumerated() {
            try TestSupport.run("espeak-ng", ["-v", voice, "-w", dir + "/\(i).wav", text])
            let a = try AudioFile.read(dir + "/\(i).wav")
            clips.append(try Resampler.resample(a.samples, from: a.sampleRate, to: 16_000))
            paths.append(dir + "/\(i).f32")
            try TestSupport.writeF32(clips[i], paths[i])
        }
        XCTAssertEqual(SpeakerEncoder.partials(samples: clips[0].count).starts.count, 1)
        XCTAssertGreaterThan(SpeakerEncoder.partials(samples: clips[1].count).starts.count, 3)
        let ref = try TestSupport.python("ge2e_reference.py", [weights] + paths) as! [String: [Double]]
        var embeds: [[Float]] = []
        for (i, p) in paths.enumerated() {
            let e = enc.embed16k(clips[i])
            embeds.append(e)
            let cos = SpeakerEncoder.similarity(e, ref[p]!.map(Float.init))
            print(String(format: "GE2E clip %d (%d partials): cosine to numpy %.6f", i, SpeakerEncoder.partials(samples: clips[i].count).starts.count, cos))
            XCTAssertGreaterThanOrEqual(cos, 0.999, "clip \(i): cosine to numpy \(cos)")
            XCTAssertEqual(e.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-4)
        }
        // Not a check of the weights' quality (the EER report does that), but different voices
        // must not look identical.
        XCTAssertLessThan(SpeakerEncoder.similarity(embeds[1], embeds[2]), 0.99)
    }

    /// Noise bursts each followed by an exponential tail of known RT60, and gaps: the estimate is
    /// close to the truth and equals the numpy implementation of the same definition
    /// (Tests/python/rt60_reference.py); a dry clip and a reverberant copy are told apart.
    static func bursts(rt60: Double, rate: Int, seed: UInt64) -> [Float] {
        let w = noise(rate * 6, seed: seed)
        var x: [Float] = [], k = 0
        for _ in 0..<4 {
            for _ in 0..<(rate * 4 / 10) { x.append(0.5 * w[k]); k += 1 }
            for i in 0..<(rate * 6 / 10) {
                let t = Double(i) / Double(rate)
                x.append(Float(0.5 * pow(10, -3 * t / rt60)) * w[k]); k += 1
            }
        }
        return x
    }

    func testRT60AgainstTruthAndNumpy() throws {
        let dir = TestSupport.tempDir("rt60")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var paths: [String] = [], values: [Double?] = []
        for (i, (t, rate)) in [(0.25, 16_000), (0.5, 44_100), (0.8, 16_000)].enumerated() {
            let x = Self.bursts(rt60: t, rate: rate, seed: UInt64(i + 1))
            let est = try XCTUnwrap(Reverberation.rt60(x, sampleRate: rate))
            XCTAssertEqual(est, t, accuracy: 0.1 * t, "RT60 \(t) s at \(rate) Hz")
            paths.append(dir + "/\(i).f32"); values.append(est)
            try TestSupport.writeF32(x, paths[i])
            let ref = try TestSupport.python("rt60_reference.py", [String(rate), paths[i]]) as! [String: Double]
            XCTAssertEqual(est, ref[paths[i]]!, accuracy: 1e-6 * t)
        }
        // Speech: an espeak-ng clip, dry and through a 0.6 s decaying-noise room.
        try TestSupport.run("espeak-ng", ["-v", "en-us", "-g", "12", "-w", dir + "/s.wav", "One. Two. Three. Four. Five. Six."])
        let a = try AudioFile.read(dir + "/s.wav")
        let ir = Self.noise(Int(0.6 * Double(a.sampleRate)), seed: 5).enumerated().map { Float(pow(10, -3 * Double($0.offset) / Double(a.sampleRate) / 0.6)) * $0.element }
        var wet = [Float](repeating: 0, count: a.samples.count + ir.count)
        for (k, h) in ir.enumerated() where k % 3 == 0 { for i in a.samples.indices { wet[i + k] += 0.05 * h * a.samples[i] } }
        for i in a.samples.indices { wet[i] += a.samples[i] }
        let dry = Reverberation.rt60(a.samples, sampleRate: a.sampleRate) ?? 0
        let rev = try XCTUnwrap(Reverberation.rt60(wet, sampleRate: a.sampleRate))
        XCTAssertGreaterThan(rev, dry + 0.15, "dry \(dry) s, reverberant \(rev) s")
        print(String(format: "RT60: bursts %@ s; speech dry %.3f s, through a 0.6 s room %.3f s", values.map { String(format: "%.3f", $0!) }.joined(separator: "/"), dry, rev))
        try TestSupport.writeF32(wet, dir + "/wet.f32")
        let ref = try TestSupport.python("rt60_reference.py", [String(a.sampleRate), dir + "/wet.f32"]) as! [String: Double]
        XCTAssertEqual(rev, ref[dir + "/wet.f32"]!, accuracy: 1e-6 * rev)
    }

    func testProsody() throws {
        let rate = 16_000
        func tone(_ f: Double) -> [Float] { (0..<rate).map { Float(0.3 * sin(2 * Double.pi * f * Double($0) / Double(rate))) } }
        let a = try ClipProsody(tone(220), rate: rate), b = try ClipProsody(tone(230), rate: rate)
        XCTAssertEqual(try XCTUnwrap(a.medianF0), 220, accuracy: 1)
        XCTAssertEqual(try XCTUnwrap(ClipProsody.f0RMSE(a.f0, b.f0)), 10, accuracy: 1)
        XCTAssertEqual(a.activeSeconds, 1, accuracy: 0.02)
        XCTAssertEqual(try XCTUnwrap(a.speakingRate(scriptBytes: 15)), 15, accuracy: 0.3)
        // A full-scale-relative 0.3 sine: −13.5 dBFS RMS, about −13.2 LUFS with K-weighting at 220 Hz.
        XCTAssertEqual(a.loudness, -13.5, accuracy: 1.0)
        XCTAssertNil(try ClipProsody([Float](repeating: 0, count: rate), rate: rate).medianF0)
    }

    /// Both ways a codec loses pitch, at 44.1 kHz: a voice moved to a fixed pitch of its own
    /// (the F0 RMSE sees it) and a voice turned aperiodic (the voiced recall sees it).
    func testPitchAgreement() throws {
        let rate = 44_100
        func tone(_ f: Double) -> [Float] {
            (0..<rate).map { i -> Float in
                let phase = 2 * Double.pi * f * Double(i) / Double(rate)
                var s = 0.0
                for k in 1...4 { s += 0.1 / Double(k) * sin(phase * Double(k)) }
                return Float(s)
            }
        }
        let voice = tone(210)
        let same = try PitchAgreement.measure(reference: voice, estimate: voice, sampleRate: rate)
        XCTAssertEqual(try XCTUnwrap(same["voiced_recall"]), 1, accuracy: 0.02)
        XCTAssertEqual(try XCTUnwrap(same["f0_rmse"]), 0, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(same["f0_within_5pct"]), 1, accuracy: 0.02)
        let comb = try PitchAgreement.measure(reference: voice, estimate: tone(86.13), sampleRate: rate)
        XCTAssertGreaterThan(try XCTUnwrap(comb["voiced_recall"]), 0.9)
        XCTAssertEqual(try XCTUnwrap(comb["f0_within_5pct"]), 0, "86 Hz is far from 210 Hz")
        let near = try PitchAgreement.measure(reference: voice, estimate: tone(216), sampleRate: rate)  // +2.9 %
        XCTAssertGreaterThan(try XCTUnwrap(near["f0_within_5pct"]), 0.9)
        let off = try PitchAgreement.measure(reference: voice, estimate: tone(224), sampleRate: rate)  // +6.7 %
        XCTAssertLessThan(try XCTUnwrap(off["f0_within_5pct"]), 0.1)
        XCTAssertLessThan(try XCTUnwrap(same["aperiodicity"]), 0.02)
        // a hoarse voice: the right pitch under noise as strong as the tone. YIN's threshold
        // calls it unvoiced; the best period is still the tone's.
        let hoarse = zip(voice, Self.noise(rate, seed: 4)).map { $0 + 0.12 * $1 }
        let h = try PitchAgreement.measure(reference: voice, estimate: hoarse, sampleRate: rate)
        XCTAssertLessThan(try XCTUnwrap(h["voiced_recall"]), 0.5, "\(h)")
        XCTAssertGreaterThan(try XCTUnwrap(h["f0_best_within_5pct"]), 0.9, "\(h)")
        XCTAssertGreaterThan(try XCTUnwrap(h["aperiodicity"]), 0.1, "\(h)")
        XCTAssertEqual(try XCTUnwrap(comb["f0_rmse"]), 210 - 86.13, accuracy: 3)
        let envelope = voice.indices.map { Float(0.05 * sin(2 * Double.pi * 3 * Double($0) / Double(rate))) }
        let noisy = try PitchAgreement.measure(reference: voice, estimate: zip(Self.noise(rate, seed: 3), envelope).map { $0 * 3 * $1 }, sampleRate: rate)
        XCTAssertLessThan(try XCTUnwrap(noisy["voiced_recall"]), 0.1)
        XCTAssertLessThan(try XCTUnwrap(noisy["f0_best_within_5pct"]), 0.3, "noise alone has no period of the voice's")
        XCTAssertNil(PitchAgreement.compare(reference: [0, 0, 0], estimate: [100, 0, 0])["voiced_recall"], "no voiced frame in the reference")
    }

    func testTooShortAfterSilenceRemovalIsNil() {
        let x = Self.noise(2000, seed: 1)  // 2000 samples at 10 kHz: fewer than 30 frames
        XCTAssertNil(STOI.score(clean: x, processed: x, rate: 10_000))
    }
}
