import ArgumentParser
import Foundation
import TimbreAudio
import TimbreFormats
import TimbreMetrics

/// Every metric of docs/design.md §6 for one pair of files.
enum PairMetrics {
    /// Every key `measure` can report (absent values print as null / "–").
    static let keys = ["si_sdr", "mel", "stft", "mrstft", "stoi", "estoi", "f0_median_ref", "f0_median", "f0_rmse", "voiced_recall", "f0_within_5pct", "f0_best_within_5pct", "aperiodicity", "loudness_ref", "loudness",
                       "rt60_ref", "rt60", "active_seconds_ref", "active_seconds", "speaking_rate_ref", "speaking_rate", "speaker_sim"]

    /// Reconstruction metrics (both at 44.1 kHz, trimmed to the shorter), prosody and level of
    /// each, F0 RMSE, and speaker similarity when an encoder is given.
    static func measure(_ ref: [Float], _ other: [Float], script: String?, encoder: SpeakerEncoder?) throws -> [String: Double] {
        let n = min(ref.count, other.count)
        let a = Array(ref.prefix(n)), b = Array(other.prefix(n))
        var m = Reconstruction.measure(reference: a, estimate: b, sampleRate: Audio.modelRate)
        let pa = try ClipProsody(ref, rate: Audio.modelRate), pb = try ClipProsody(other, rate: Audio.modelRate)
        m["f0_median_ref"] = pa.medianF0; m["f0_median"] = pb.medianF0
        m.merge(try PitchAgreement.measure(referenceF0: pa.f0, estimate: b, sampleRate: Audio.modelRate)) { a, _ in a }
        m["loudness_ref"] = pa.loudness; m["loudness"] = pb.loudness
        m["rt60_ref"] = pa.rt60; m["rt60"] = pb.rt60
        m["active_seconds_ref"] = pa.activeSeconds; m["active_seconds"] = pb.activeSeconds
        if let script {
            m["speaking_rate_ref"] = pa.speakingRate(scriptBytes: script.utf8.count)
            m["speaking_rate"] = pb.speakingRate(scriptBytes: script.utf8.count)
        }
        if let encoder {
            m["speaker_sim"] = SpeakerEncoder.similarity(try encoder.embed(ref, rate: Audio.modelRate), try encoder.embed(other, rate: Audio.modelRate))
        }
        return m
    }
}

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Every docs/design.md §6 metric for one pair: reconstruction, F0, loudness, reverberation, speaker similarity.",
        discussion: """
            Both files (at least 0.5 s each) are mixed to mono and resampled to 44.1 kHz; the reconstruction metrics \
            (SI-SDR, mel, STFT and MR-STFT distances, STOI, ESTOI) compare the first min(length) \
            samples. Per file: median F0 (YIN), EBU R 128 loudness, RT60 estimate, active-speech \
            seconds and, with --script, speaking rate (script bytes per active second). F0 RMSE is \
            over frames voiced in both. Speaker similarity needs the encoder weights \
            (Recipes/setup.sh fetches them).
            """)

    /// STOI needs 30 frames of 25.6 ms after silent ones are dropped, EBU R 128 loudness 0.4 s.
    static let minSamples = 22050, purpose = "comparing (STOI and loudness)"

    @Argument(help: "Reference audio file.") var reference: String
    @Argument(help: "The other audio file.") var other: String
    @Option(help: "The script both clips speak (for speaking rate).") var script: String?
    @Option(help: "Speaker-encoder weights.") var speakerEncoder = SpeakerEncoder.defaultWeights
    @Flag(help: "Print JSON instead of a table.") var json = false

    mutating func run() throws {
        let a = try InputAudio.read(reference, minSamples: Self.minSamples, purpose: Self.purpose)
        let b = try InputAudio.read(other, minSamples: Self.minSamples, purpose: Self.purpose)
        let weights = SpeakerEncoder.locate(speakerEncoder)
        let enc = FileManager.default.fileExists(atPath: weights) ? try SpeakerEncoder(weights: weights) : nil
        let m = try PairMetrics.measure(a.samples, b.samples, script: script, encoder: enc)
        if json {
            var clean: [String: Any] = [:]
            for k in PairMetrics.keys where k != "speaking_rate" && k != "speaking_rate_ref" || script != nil {
                clean[k] = m[k] ?? .nan
            }
            if enc == nil { clean["speaker_sim_note"] = "no speaker-encoder weights at \(weights) (Recipes/setup.sh fetches them)" }
            print(String(decoding: try JSONSerialization.data(withJSONObject: JSONNumbers.finite(clean), options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
            return
        }
        if a.samples.count != b.samples.count {
            print(String(format: "note: lengths differ (%.2f s vs %.2f s); reconstruction metrics use the first %.2f s", a.seconds, b.seconds, min(a.seconds, b.seconds)))
        }
        for k in PairMetrics.keys where m[k] != nil || !k.hasPrefix("speaking_rate") {
            print(k.padding(toLength: 20, withPad: " ", startingAt: 0) + (m[k].map { String(format: "%10.4f", $0) } ?? "         –"))
        }
        if enc == nil { print("(no speaker-encoder weights at \(weights): speaker similarity left out)") }
    }
}
