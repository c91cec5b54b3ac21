import Foundation
import TimbreAudio
import TimbreData
import TimbreMetrics

/// Speaker verification on real corpus speakers: how far the GE2E encoder can be trusted.
/// Clean (no added environment), non-synthetic clips, up to `clips_per_speaker` per speaker
/// (speakers with fewer than 2 are skipped); every within-speaker pair is a target trial, every
/// cross-speaker pair a non-target trial; the equal error rate is where the false-acceptance and
/// false-rejection rates cross.
public struct SpeakerSuite {
    public struct Result: Sendable {
        public var speakers: Int, clips: Int
        public var same: [Double], different: [Double]
        public var eer: Double, threshold: Double
    }

    /// EER of target and non-target scores: the threshold sweep over all scores, the point where
    /// the false-rejection rate (targets below the threshold) meets the false-acceptance rate
    /// (non-targets at or above it), interpolated linearly between the two sweep points around the crossing.
    public static func equalErrorRate(targets: [Double], nonTargets: [Double]) -> (eer: Double, threshold: Double) {
        precondition(!targets.isEmpty && !nonTargets.isEmpty, "EER needs target and non-target trials")
        let all = (targets.map { ($0, true) } + nonTargets.map { ($0, false) }).sorted { $0.0 < $1.0 }
        let nt = Double(targets.count), nn = Double(nonTargets.count)
        // Threshold just above all[i]: rejected = scores ≤ all[i].
        var frr = 0.0, far = 1.0
        var prev = (frr: 0.0, far: 1.0, thr: all[0].0)
        for (score, isTarget) in all {
            if isTarget { frr += 1 / nt } else { far -= 1 / nn }
            if frr >= far {
                // Crossed between prev and here.
                let d1 = prev.far - prev.frr, d2 = frr - far
                let w = d1 + d2 > 0 ? d1 / (d1 + d2) : 0.5
                return (prev.frr + w * (frr - prev.frr), prev.thr + w * (score - prev.thr))
            }
            prev = (frr, far, score)
        }
        return (0, all.last!.0)
    }

    public static func run(data: String, split: String, clipsPerSpeaker: Int, maxSeconds: Double, encoder: SpeakerEncoder,
                           progress: (String) -> Void) throws -> Result {
        let s = try CorpusSplit(dir: data, split: split)
        var bySpeaker: [String: [Int]] = [:]
        for i in 0..<s.count {
            let m = s.meta(i)
            guard let a = try? JSONDecoder().decode(ClipAttributes.self, from: Data(m.attributes.utf8)),
                  !a.synthetic, a.isClean else { continue }
            bySpeaker[m.speaker, default: []].append(i)
        }
        let chosen = bySpeaker.filter { $0.value.count >= 2 }.mapValues { ids in spreadIndices(clipsPerSpeaker, over: ids.count).map { ids[$0] } }
        guard chosen.count >= 2 else {
            throw EvalError.invalid(data, "split '\(split)' has \(chosen.count) real speakers with ≥ 2 clean clips; speaker verification needs at least 2")
        }
        var embeds: [(String, [Float])] = []
        let t0 = Date()
        for spk in chosen.keys.sorted() {
            for i in chosen[spk]! {
                embeds.append((spk, try encoder.embed(try s.head(i, seconds: maxSeconds), rate: Audio.modelRate)))
            }
            progress(String(format: "  %d/%d speakers embedded, %.0f s", embeds.count > 0 ? Set(embeds.map(\.0)).count : 0, chosen.count, Date().timeIntervalSince(t0)))
        }
        var same: [Double] = [], different: [Double] = []
        for a in 0..<embeds.count {
            for b in (a + 1)..<embeds.count {
                let c = SpeakerEncoder.similarity(embeds[a].1, embeds[b].1)
                if embeds[a].0 == embeds[b].0 { same.append(c) } else { different.append(c) }
            }
        }
        let (eer, thr) = equalErrorRate(targets: same, nonTargets: different)
        return Result(speakers: chosen.count, clips: embeds.count, same: same, different: different, eer: eer, threshold: thr)
    }
}
