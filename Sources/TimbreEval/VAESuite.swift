import Foundation
import TimbreAudio
import TimbreData
import TimbreMetrics
import TimbreMPI
import TimbreVAE
import TimbreCheckpoint

/// One clip's scores.
public struct ClipScore: Codable, Sendable {
    public var id: String, speaker: String, source: String, environment: String
    public var seconds: Double
    public var metrics: [String: Double]
    public init(id: String, speaker: String, source: String, environment: String, seconds: Double, metrics: [String: Double]) {
        self.id = id; self.speaker = speaker; self.source = source; self.environment = environment; self.seconds = seconds; self.metrics = metrics
    }
}

/// The results of one system (a checkpoint or an anchor) on the suite's clips.
public struct SystemScore: Codable, Sendable {
    public var name: String
    public var checkpoint: String?
    public var step: Int?
    public var clips: [ClipScore]
    public init(name: String, checkpoint: String? = nil, step: Int? = nil, clips: [ClipScore]) {
        self.name = name; self.checkpoint = checkpoint; self.step = step; self.clips = clips
    }

    /// Mean of each metric over the clips that have it.
    public var overall: [String: Double] { Self.mean(clips) }
    public var perSpeaker: [String: [String: Double]] {
        Dictionary(grouping: clips, by: \.speaker).mapValues { Self.mean($0) }
    }

    static func mean(_ clips: [ClipScore]) -> [String: Double] {
        var s: [String: Double] = [:], n: [String: Int] = [:]
        for c in clips { for (k, v) in c.metrics where v.isFinite { s[k, default: 0] += v; n[k, default: 0] += 1 } }
        return s.reduce(into: [:]) { $0[$1.key] = $1.value / Double(n[$1.key]!) }
    }
}

/// The VAE suite: held-out clips through a VAE → docs/design.md §6 reconstruction metrics per clip, per
/// speaker and overall; optionally every checkpoint of a training directory.
public struct VAESuite {
    public let recipe: EvalRecipe
    public let data: String
    public let split: CorpusSplit
    public let picked: [Int]
    /// Identity of reconstruction vs original (nil: no weights; the metric is then absent).
    public let speakers: SpeakerEncoder?
    let originalEmbeddings = PerClip<[Float]>(), originalF0 = PerClip<[Double]>(), originalLoudness = PerClip<Double>()

    public init(recipe: EvalRecipe, data: String, speakers: SpeakerEncoder?) throws {
        self.recipe = recipe; self.data = data; self.speakers = speakers
        split = try CorpusSplit(dir: data, split: recipe.splitName)
        picked = spreadIndices(recipe.clipCount, over: split.count)
    }

    /// The originals, cut to `max_seconds` at 44.1 kHz.
    public func originals() throws -> [(meta: ClipMeta, audio: [Float])] {
        try picked.map { i in (split.meta(i), try split.head(i, seconds: recipe.maxSeconds)) }
    }

    func score(_ k: Int, _ meta: ClipMeta, _ x: [Float], _ y: [Float]) throws -> ClipScore {
        // Imported corpora may carry other attributes; those clips are labelled "unknown".
        let a = try? JSONDecoder().decode(ClipAttributes.self, from: Data(meta.attributes.utf8))
        let f0 = try originalF0.get(k) { try ClipProsody.f0Track(x, rate: Audio.modelRate) }
        var m = try Reconstruction.measure(reference: x, estimate: y, referenceF0: f0, sampleRate: Audio.modelRate)
        // |EBU R 128 loudness of the reconstruction − the original's| in LU (absent for silence).
        let gap = abs(Loudness.integrated(y, sampleRate: Audio.modelRate) - originalLoudness.get(k) { Loudness.integrated(x, sampleRate: Audio.modelRate) })
        if gap.isFinite { m["loudness_gap"] = gap }
        if let speakers {
            let ex = try originalEmbeddings.get(k) { try speakers.embed(x, rate: Audio.modelRate) }
            m["speaker_sim"] = SpeakerEncoder.similarity(ex, try speakers.embed(y, rate: Audio.modelRate))
        }
        return ClipScore(id: meta.utterance_id, speaker: meta.speaker, source: a?.source ?? "unknown", environment: a?.environment ?? "unknown",
                         seconds: Double(x.count) / Double(Audio.modelRate), metrics: m)
    }

    /// Scores one checkpoint; `keep` receives the reconstructions of the first `keeping` clips
    /// (for the report's audio). Under MPI the ranks share the clips (`Ranks.map`) and rank 0
    /// alone gets the scores (the others get an empty score list) and calls `keep`.
    public func run(checkpoint: String, originals: [(meta: ClipMeta, audio: [Float])], ranks: Ranks = .single, keeping: Int = 0,
                    progress: (String) -> Void, keep: (Int, [Float]) -> Void = { _, _ in }) throws -> SystemScore {
        let (vae, path, _) = try VAEInference.load(checkpoint)
        let step = Release.isRelease(path) ? try Release.validate(path).step : try Checkpoints.validate(path).step
        let t0 = Date()
        var done = 0
        let mine = (originals.count - ranks.rank + ranks.size - 1) / ranks.size
        let scored = try ranks.map(originals.count) { k -> ScoredClip in
            let o = originals[k]
            let y = try VAEInference.reconstruct(vae, o.audio)
            done += 1
            if ranks.isRoot && (done % 8 == 0 || done == mine) {
                progress(String(format: "  %@: %d/%d clips, %.1f s", (path as NSString).lastPathComponent, done * ranks.size, originals.count, Date().timeIntervalSince(t0))
                    + (ranks.isDistributed ? " (rank 0's share × \(ranks.size))" : ""))
            }
            return ScoredClip(score: try score(k, o.meta, o.audio, y), audio: k < keeping ? y : nil)
        }
        for (k, c) in scored.enumerated() { if let y = c.audio { keep(k, y) } }
        return SystemScore(name: (path as NSString).lastPathComponent, checkpoint: path, step: step, clips: scored.map(\.score))
    }

    struct ScoredClip: Codable { var score: ClipScore; var audio: [Float]? }

    /// Fixed degradations that put the numbers on a scale: the original band-limited by a
    /// round trip through 16 kHz and through 8 kHz (libsoxr).
    public func anchors(_ originals: [(meta: ClipMeta, audio: [Float])], ranks: Ranks = .single) throws -> [SystemScore] {
        try [16_000, 8_000].map { rate in
            let clips = try ranks.map(originals.count) { k -> ClipScore in
                let o = originals[k]
                let down = try Resampler.resample(o.audio, from: Audio.modelRate, to: rate)
                var y = try Resampler.resample(down, from: rate, to: Audio.modelRate)
                y = Array(y.prefix(o.audio.count)) + [Float](repeating: 0, count: max(0, o.audio.count - y.count))
                return try score(k, o.meta, o.audio, y)
            }
            return SystemScore(name: "anchor: band-limited to \(rate / 2000) kHz", checkpoint: nil, step: nil, clips: clips)
        }
    }
}

/// Values of the originals (speaker embeddings, F0 tracks) computed once per clip index, shared
/// by every checkpoint and anchor the suite scores.
final class PerClip<Value>: @unchecked Sendable {
    var values: [Int: Value] = [:]
    func get(_ k: Int, _ make: () throws -> Value) rethrows -> Value {
        if let v = values[k] { return v }
        let v = try make()
        values[k] = v
        return v
    }
}
