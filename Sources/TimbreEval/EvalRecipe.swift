import Foundation
import TimbreDiT
import TimbreFormats

/// The suites `timbre eval` runs (`EvalRun`).
public enum EvalSuite: String, Codable, Sendable, CaseIterable {
    /// Reconstruction of held-out clips through a VAE.
    case vae
    /// Speaker verification on the corpus's real speakers: same/different-speaker similarity and
    /// the encoder's EER.
    case speakers
    /// Cloning identity and description adherence of an MM-DiT.
    case dit
    /// Demo generations to listen to.
    case samples

    public init(from decoder: Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let suite = EvalSuite(rawValue: name) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription:
                "expected " + Self.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ") + ", got \"\(name)\""))
        }
        self = suite
    }
}

/// `Recipes/eval-NAME.json`: which suite to run and on what. Unknown keys are errors.
public struct EvalRecipe: Codable, Sendable {
    public var suite: EvalSuite
    /// Corpus split to draw clips from (default "test").
    public var split: String?
    /// Number of clips, spread evenly over the split so every part of the corpus is represented (default 32).
    public var clips: Int?
    /// Each clip is cut to its first this-many seconds (default 5).
    public var max_seconds: Double?
    /// How many clips get their audio (original and result) and spectrograms in the report (default 8).
    public var audio_clips: Int?
    /// Also score fixed degradations of the originals (band-limiting to 8 and 4 kHz) so the
    /// numbers have a scale (default true).
    public var anchors: Bool?
    /// speakers suite: clean clips per real speaker (default 8).
    public var clips_per_speaker: Int?
    /// dit suite: speakers cloned (default 12), seeds per description contrast (default 20),
    /// sampler steps and guidance weights (defaults 32, 3, 2).
    public var clone_pairs: Int?
    public var seeds: Int?
    public var steps: Int?
    public var cfg_text: Double?
    public var cfg_ref: Double?
    /// samples suite: the prompts to generate (design, clone, tune) for listening.
    public var prompts: [SamplePrompt]?

    public var splitName: String { split ?? "test" }
    public var clipCount: Int { clips ?? 32 }
    public var maxSeconds: Double { max_seconds ?? 5 }
    public var audioClips: Int { audio_clips ?? 8 }
    public var withAnchors: Bool { anchors ?? true }
    public var clipsPerSpeaker: Int { clips_per_speaker ?? 8 }
    public var clonePairs: Int { clone_pairs ?? 12 }
    public var seedCount: Int { seeds ?? 20 }
    /// The sampler settings of the dit and samples suites (defaults 32 Euler steps, guidance 3 and 2).
    public var samplerOptions: SamplerOptions {
        var o = SamplerOptions()
        o.steps = steps ?? 32; o.cfgText = cfg_text ?? 3; o.cfgRef = cfg_ref ?? 2
        return o
    }

    public static func load(_ path: String) throws -> EvalRecipe {
        let r = try StrictJSON.decode(EvalRecipe.self, fromFile: path)
        if r.suite == .samples { try SamplesSuite.validate(r.prompts ?? [], in: path) }
        guard r.clipCount > 0, r.maxSeconds > 0, r.audioClips >= 0 else {
            throw FormatError.malformed(path, "clips and max_seconds must be positive, audio_clips ≥ 0")
        }
        return r
    }
}

/// `n` indices spread evenly over `0..<count` (all of them when n ≥ count).
public func spreadIndices(_ n: Int, over count: Int) -> [Int] {
    guard n < count else { return Array(0..<count) }
    return (0..<n).map { $0 * count / n }
}
