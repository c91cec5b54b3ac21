import Foundation
import TimbreAudio
import TimbreLosses
import TimbreMetrics
import TimbreTensor

/// `timbre bench eval`: the docs/design.md §6 metrics (no model passes) on pairs of clips.
public enum EvalBench {
    public struct Result: Sendable {
        public var pairs: Int, seconds: Double
        /// Seconds per metric group over all pairs.
        public var parts: [(String, Double)]
        public var total: Double { parts.reduce(0) { $0 + $1.1 } }
    }

    public enum Failure: Error, CustomStringConvertible {
        case speechSynthesis(Int32)
        public var description: String {
            switch self { case .speechSynthesis(let status): return "espeak-ng failed with status \(status) (Recipes/setup.sh installs it)" }
        }
    }

    /// `count` pairs of clips of `seconds` at 44.1 kHz: four sentences spoken by espeak-ng
    /// (repeated to length), each paired with a copy at 0.8 gain plus Gaussian noise of level
    /// 0.02–0.11 (seeded).
    public static func spokenPairs(_ count: Int, seconds: Double) throws -> [([Float], [Float])] {
        let n = Int(seconds * Double(Audio.modelRate))
        let texts = ["The quick brown fox jumps over the lazy dog while the band plays on.",
                     "Measure every metric honestly, then report what the numbers mean.",
                     "A calm voice reads the weather forecast for the northern coast tonight.",
                     "Seven silver spoons were found beneath the old kitchen floor."]
        let dir = NSTemporaryDirectory() + "timbre-bench-eval-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var clips: [[Float]] = []
        for (i, t) in texts.enumerated() {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["espeak-ng", "-v", i % 2 == 0 ? "en-us" : "en-gb+f3", "-s", "140", "-w", "\(dir)/\(i).wav", t]
            try p.run(); p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw Failure.speechSynthesis(p.terminationStatus) }
            var x = try Resampler.resample(try AudioFile.read("\(dir)/\(i).wav"), to: Audio.modelRate).samples
            while x.count < n { x += x }
            clips.append(Array(x.prefix(n)))
        }
        var r = RandomStream(seed: 7)
        return (0..<count).map { k in
            let a = clips[k % clips.count]
            let level = Float(0.02 + 0.1 * Double(k % 10) / 10)
            return (a, a.map { 0.8 * $0 + level * Float(r.normal()) })
        }
    }

    /// Times each group of metrics over `pairs` (reference, other) at 44.1 kHz.
    public static func run(_ pairs: [([Float], [Float])], encoder: SpeakerEncoder?, progress: (String) -> Void) throws -> Result {
        var parts: [String: Double] = [:]
        func timed(_ name: String, _ body: () throws -> Void) rethrows {
            let t0 = Bench.now()
            try body()
            parts[name, default: 0] += Bench.now() - t0
        }
        for (i, (a, b)) in pairs.enumerated() {
            timed("SI-SDR") { _ = siSDR(reference: a, estimate: b) }
            timed("mel + STFT + MR-STFT distances") {
                let r = Tensor<Float>(a, shape: [1, 1, a.count]), e = Tensor<Float>(b, shape: [1, 1, b.count])
                _ = MelLoss<Float>(sampleRate: Audio.modelRate).forward(e, r)
                _ = MRSTFTLoss<Float>().forward(e, r)
                _ = Reconstruction.stftDistance(reference: a, estimate: b)
            }
            timed("STOI + ESTOI") {
                _ = STOI.scores(clean: a, processed: b, rate: Audio.modelRate)
            }
            try timed("F0 (YIN) + loudness + RT60 + active speech") {
                _ = try ClipProsody(a, rate: Audio.modelRate); _ = try ClipProsody(b, rate: Audio.modelRate)
            }
            if let encoder {
                try timed("speaker similarity (GE2E, 2 clips)") {
                    _ = SpeakerEncoder.similarity(try encoder.embed(a, rate: Audio.modelRate), try encoder.embed(b, rate: Audio.modelRate))
                }
            }
            if (i + 1) % 20 == 0 { progress("  \(i + 1)/\(pairs.count) pairs") }
        }
        let order = ["SI-SDR", "mel + STFT + MR-STFT distances", "STOI + ESTOI", "F0 (YIN) + loudness + RT60 + active speech", "speaker similarity (GE2E, 2 clips)"]
        return Result(pairs: pairs.count, seconds: Double(pairs.first?.0.count ?? 0) / Double(Audio.modelRate), parts: order.compactMap { k in parts[k].map { (k, $0) } })
    }
}
