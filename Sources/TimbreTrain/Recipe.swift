import Foundation
import TimbreCheckpoint
import TimbreFormats

/// A model that trains from a recipe: its `model` section plus the sections its task reads.
/// The model core declares `ModelConfig`; its training part adds this conformance, so that
/// generation never sees the training sections' types.
public protocol TrainableModel: ModelConfig {
    /// The recipe's `data` section for this model (its type lives beside the code that reads it).
    associatedtype DataSection: RecipeSection = AbsentSection
    /// The recipe's `adversarial` section (the VAE's discriminator; other models have none).
    associatedtype AdversarialSection: RecipeSection = AbsentSection
}

/// A recipe section a model defines (`data`, `adversarial`): decoded strictly, then validated.
public protocol RecipeSection: Codable, Sendable {
    /// Throws an error naming `file` and the key for a value out of range.
    func validate(file: String) throws
}

/// The type of a section a model's recipes do not have: present in a recipe, it is an error.
public struct AbsentSection: RecipeSection {
    public init(from decoder: Decoder) throws {
        let key = decoder.codingPath.last?.stringValue ?? "section"
        throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                debugDescription: "'\(key)' is not a section of this model's recipes"))
    }
    public func encode(to encoder: Encoder) throws {}
    public func validate(file: String) throws {}
}


/// The `training` section every recipe shares (docs/design.md §7). Optional fields fall back to the
/// defaults documented here; unknown keys are rejected by `StrictJSON`.
public struct TrainingConfig: Codable, Sendable {
    /// Total optimizer steps.
    public var steps: Int
    /// Examples per optimizer step (split evenly over `micro_batches`).
    public var batch_size: Int
    /// Gradient accumulation: micro-batches per step (default 1).
    public var micro_batches: Int?
    public var optimizer: AdamWConfig
    public var schedule: ScheduleConfig?
    /// Clip the global gradient norm to this value (default: no clipping).
    public var grad_clip: Double?
    /// Exponential moving average of the weights (default: none).
    public var ema: EMAConfig?
    /// Save a checkpoint every N steps (default 1000) and at the end.
    public var checkpoint_every: Int?
    /// Keep the newest K checkpoints (default 3).
    public var keep_last: Int?
    /// Stop after this many consecutive steps with a non-finite loss or gradient (default 5).
    public var max_bad_steps: Int?
    /// Parameter-name prefixes kept fixed (fine-tuning part of a model, e.g. `["encoder."]` to
    /// train only a VAE's decoder): no update, no weight decay, and their gradients do not count
    /// in the clipping norm. Each prefix must name at least one parameter (default: none).
    public var freeze: [String]?

    public var microBatches: Int { micro_batches ?? 1 }
    public var checkpointEvery: Int { checkpoint_every ?? 1000 }
    public var keepLast: Int { keep_last ?? 3 }
    public var maxBadSteps: Int { max_bad_steps ?? 5 }

    public func validate(file: String) throws {
        func bad(_ p: String, _ r: String) -> FormatError { .invalidValue(file: file, path: "training.\(p)", reason: r) }
        if !(1...1_000_000_000).contains(steps) { throw bad("steps", "must be in 1…1000000000, got \(steps)") }
        if !(1...65536).contains(batch_size) { throw bad("batch_size", "must be in 1…65536, got \(batch_size)") }
        if microBatches < 1 || batch_size % microBatches != 0 {
            throw bad("micro_batches", "must be ≥ 1 and divide batch_size \(batch_size), got \(microBatches)")
        }
        if checkpointEvery < 1 { throw bad("checkpoint_every", "must be ≥ 1") }
        if keepLast < 1 { throw bad("keep_last", "must be ≥ 1") }
        if let c = grad_clip, !(c > 0 && c.isFinite) { throw bad("grad_clip", "must be a finite number > 0, got \(c)") }
        if let m = max_bad_steps, m < 1 { throw bad("max_bad_steps", "must be ≥ 1, got \(m)") }
        try optimizer.validate(file: file)
        if let e = ema, !(e.decay > 0 && e.decay < 1) { throw bad("ema.decay", "must be in (0, 1), got \(e.decay)") }
        if let s = schedule { try s.validate(file: file) }
        if let f = freeze, f.contains(where: \.isEmpty) { throw bad("freeze", "prefixes must not be empty") }
    }

    /// Whether a parameter name is frozen by `freeze`.
    public func isFrozen(_ name: String) -> Bool { (freeze ?? []).contains { name.hasPrefix($0) } }
}

/// A recipe: the model type, a seed, the model's own configuration and the training section,
/// as in stable-audio-tools' model configs. `Model` is the model's config type.
public struct Recipe<Model: TrainableModel>: Codable, Sendable {
    public var model_type: String
    public var seed: UInt64?
    public var model: Model
    public var training: TrainingConfig
    /// Loss weights by name (each trainer documents and checks its names).
    public var losses: [String: Double]?
    /// The model's data options (`VAEDataConfig`, `DiTDataConfig`).
    public var data: Model.DataSection?
    /// The VAE's adversarial stage (`VAEAdversarialConfig`, docs/design.md §2); absent, none.
    public var adversarial: Model.AdversarialSection?

    /// Reads a recipe strictly and validates its training section. Returns the recipe and the
    /// exact bytes (stored in every checkpoint as `recipe.json`).
    public static func load(_ path: String, expecting type: String) throws -> (Recipe, Data) {
        guard let data = FileManager.default.contents(atPath: path) else { throw FormatError.io(path, "cannot read recipe") }
        let r = try StrictJSON.decode(Recipe.self, from: data, file: path)
        guard r.model_type == type else {
            throw FormatError.invalidValue(file: path, path: "model_type", reason: "this command trains '\(type)', the recipe is for '\(r.model_type)'")
        }
        try r.model.check(file: path)
        try ModelLimits.requireMemory(r.model.parameterEstimate * ModelLimits.trainingBytesPerParameter,
                                      for: "training this model's parameters and optimizer state", file: path)
        try r.training.validate(file: path)
        try r.data?.validate(file: path)
        if let a = r.adversarial { try a.validate(file: path) }
        for (k, w) in r.losses ?? [:] where !(w >= 0 && w.isFinite) {
            throw FormatError.invalidValue(file: path, path: "losses.\(k)", reason: "must be a finite weight ≥ 0, got \(w)")
        }
        return (r, data)
    }
}

