import TimbreFormats
import TimbreDiT
import TimbreTrain

extension DiTConfig: TrainableModel {
    public typealias DataSection = DiTDataConfig
}

/// The `data` section of an MM-DiT recipe, with its defaults: which utterances it trains on and
/// the task mixture (docs/design.md §3.2).
public struct DiTDataConfig: RecipeSection {
    /// Latent split to train on (default "train").
    public var split: String?
    /// Train on only the first N clips of the split (overfitting tests).
    public var max_clips: Int?
    /// Longest target utterance in seconds (longer ones are skipped and counted; default 12).
    public var max_seconds: Double?
    /// Longest reference in seconds (a random window of a longer one; default 6).
    public var reference_seconds: Double?
    /// Probability of a reference [0.5], of dropping the description [0.3], the script [0.1],
    /// everything but the target [0.1].
    public var p_reference: Double?
    public var p_drop_description: Double?
    public var p_drop_script: Double?
    public var p_drop_all: Double?

    public init() {}

    public var trainingSplit: String { split ?? "train" }
    public var maxSeconds: Double { max_seconds ?? 12 }
    public var referenceSeconds: Double { reference_seconds ?? 6 }
    public var pReference: Double { p_reference ?? 0.5 }
    public var pDropDescription: Double { p_drop_description ?? 0.3 }
    public var pDropScript: Double { p_drop_script ?? 0.1 }
    public var pDropAll: Double { p_drop_all ?? 0.1 }

    public func validate(file: String) throws {
        func bad(_ p: String, _ r: String) -> FormatError { .invalidValue(file: file, path: "data.\(p)", reason: r) }
        if let m = max_clips, m < 1 { throw bad("max_clips", "must be ≥ 1, got \(m)") }
        for (k, v) in [("max_seconds", max_seconds), ("reference_seconds", reference_seconds)] {
            if let v, !(v > 0 && v <= 600) { throw bad(k, "must be a number of seconds in (0, 600], got \(v)") }
        }
        for (k, v) in [("p_reference", p_reference), ("p_drop_description", p_drop_description), ("p_drop_script", p_drop_script), ("p_drop_all", p_drop_all)] {
            if let v, !(v >= 0 && v <= 1) { throw bad(k, "must be a probability in [0, 1], got \(v)") }
        }
    }
}
