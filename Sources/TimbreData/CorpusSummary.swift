import Foundation
import TimbreAudio

/// What `timbre corpus info` prints: counts per split, hours real vs synthetic, speakers,
/// variants, environments, sources with licences, skipped files.
public struct CorpusSummary {
    public let text: String

    public init(dir: String, manifest m: CorpusManifest) throws {
        var lines: [String] = ["corpus \(m.name) (\(dir)), built \(m.created) in \(m.build_seconds) s"]
        var bySplit: [String: (clips: Int, seconds: Double, speakers: Set<String>, groups: Set<String>)] = [:]
        var envs: [String: Int] = [:]
        var realSeconds = 0.0, synthSeconds = 0.0
        var genders: [String: Set<String>] = [:]
        for s in m.shards {
            let shard = try AudioShard("\(dir)/\(s.file)")
            var e = bySplit[s.split] ?? (0, 0, [], [])
            for (i, meta) in shard.metas.enumerated() {
                let sec = Double(shard.length(i)) / Double(Audio.modelRate)
                e.clips += 1; e.seconds += sec; e.speakers.insert(meta.speaker); e.groups.insert(meta.variant)
                if let a = try? JSONDecoder().decode(ClipAttributes.self, from: Data(meta.attributes.utf8)) {
                    envs[a.environment + (a.tempo != 1 ? "+tempo" : a.pitch_shift_cents != 0 ? "+pitch" : ""), default: 0] += 1
                    if a.synthetic { synthSeconds += sec } else { realSeconds += sec }
                    genders[a.gender, default: []].insert(meta.speaker)
                }
            }
            bySplit[s.split] = e
        }
        let allSpeakers = bySplit.values.reduce(into: Set<String>()) { $0.formUnion($1.speakers) }
        let total = bySplit.values.reduce(0.0) { $0 + $1.seconds }
        lines.append(String(format: "%.2f h of audio (%.2f h real recordings, %.2f h synthetic), %d speakers (%@), %d shards",
                            total / 3600, realSeconds / 3600, synthSeconds / 3600, allSpeakers.count,
                            genders.keys.sorted().map { "\(genders[$0]!.count) \($0)" }.joined(separator: ", "), m.shards.count))
        for sp in bySplit.keys.sorted() {
            let e = bySplit[sp]!
            lines.append(String(format: "  %-6@ %6d clips  %7.2f min  %4d speakers  %5d utterances (variant groups)",
                                sp, e.clips, e.seconds / 60, e.speakers.count, e.groups.count))
        }
        lines.append("  held-out speakers: \(m.held_out_speakers.joined(separator: ", ")); held-out utterance fraction \(m.utterance_fraction_held_out)")
        lines.append("environments/variants: " + envs.keys.sorted().map { "\($0) \(envs[$0]!)" }.joined(separator: ", "))
        lines.append("sources:")
        for (k, v) in m.sources.sorted(by: { $0.key < $1.key }) {
            lines.append(String(format: "  %-28@ %6d clips  %7.2f min  %@  [%@]", k, v.clips, v.seconds / 60, v.synthetic ? "synthetic" : "real", v.licence))
        }
        let nSkipped = m.skipped.values.reduce(0, +)
        lines.append("skipped: \(nSkipped)" + (nSkipped > 0 ? " (" + m.skipped.map { "\($0.value)× \($0.key)" }.joined(separator: "; ") + ")" : ""))
        text = lines.joined(separator: "\n")
    }
}

/// Reads every clip of every shard of a corpus back: HDF5 verifies each chunk's checksum, and
/// opening a float32 shard already checks that its audio is finite (`AudioShard.init`).
public enum CorpusVerify {
    public static func run(dir: String, manifest m: CorpusManifest) throws -> (clips: Int, seconds: Double) {
        var clips = 0, samples = 0
        for s in m.shards {
            let shard = try AudioShard("\(dir)/\(s.file)")
            var buf = [Float](repeating: 0, count: max(1, (0..<shard.count).map(shard.length).max() ?? 0))
            for i in 0..<shard.count {
                try buf.withUnsafeMutableBufferPointer { try shard.read(clip: i, into: $0.baseAddress!) }
                clips += 1; samples += shard.length(i)
            }
        }
        return (clips, Double(samples) / Double(Audio.modelRate))
    }
}
