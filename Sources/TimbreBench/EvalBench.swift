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
