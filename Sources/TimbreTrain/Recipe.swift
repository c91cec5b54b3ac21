import Foundation
import TimbreFormats

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
public struct Recipe<Model: ModelConfig>: Codable, Sendable {
    public var model_type: String
    public var seed: UInt64?
    public var model: Model
    public var training: TrainingConfig
    /// Loss weights by name (each trainer documents and checks its names).
    public var losses: [String: Double]?
    /// Data options (crop length, split, …).
    public var data: DataConfig?
    /// VAE only: the adversarial stage (docs/design.md §2); absent, none.
    public var adversarial: AdversarialConfig?

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

/// The `data` section of a recipe.
public struct DataConfig: Codable, Sendable {
    /// VAE: training crop length in samples (a multiple of the hop).
    public var crop_samples: Int?
    /// Corpus split to train on (default "train"); held-out metrics use "test".
    public var split: String?
    /// Held-out clips evaluated at each checkpoint (default 8).
    public var eval_clips: Int?
    /// Train on only the first N clips of the split (overfitting tests).
    public var max_clips: Int?
    /// MM-DiT: longest target utterance in seconds (longer ones are skipped and counted; default 12).
    public var max_seconds: Double?
    /// MM-DiT: longest reference in seconds (a random window of a longer one; default 6).
    public var reference_seconds: Double?
    /// MM-DiT task mixture (docs/design.md §3.2): probability of a reference [0.5], of dropping the
    /// description [0.3], the script [0.1], everything but the target [0.1].
    public var p_reference: Double?
    public var p_drop_description: Double?
    public var p_drop_script: Double?
    public var p_drop_all: Double?

    public init() {}

    public func validate(file: String) throws {
        func bad(_ p: String, _ r: String) -> FormatError { .invalidValue(file: file, path: "data.\(p)", reason: r) }
        if let c = crop_samples, !(1...(1 << 24)).contains(c) { throw bad("crop_samples", "must be in 1…16777216, got \(c)") }
        if let e = eval_clips, !(0...100_000).contains(e) { throw bad("eval_clips", "must be in 0…100000, got \(e)") }
        if let m = max_clips, m < 1 { throw bad("max_clips", "must be ≥ 1, got \(m)") }
        for (k, v) in [("max_seconds", max_seconds), ("reference_seconds", reference_seconds)] {
            if let v, !(v > 0 && v <= 600) { throw bad(k, "must be a number of seconds in (0, 600], got \(v)") }
        }
        for (k, v) in [("p_reference", p_reference), ("p_drop_description", p_drop_description), ("p_drop_script", p_drop_script), ("p_drop_all", p_drop_all)] {
            if let v, !(v >= 0 && v <= 1) { throw bad(k, "must be a probability in [0, 1], got \(v)") }
        }
    }
}

/// The `adversarial` section of a VAE recipe (docs/design.md §2): a multi-scale STFT discriminator trained
/// with the hinge loss alongside the VAE, which then also minimises `losses.adversarial` ×
/// adversarial loss + `losses.feature_matching` × feature-matching L1 (defaults 0.1 and 5.0, as
/// stable-audio-tools). Every step from `start_step` trains both: the discriminator on the real
/// crops and the step's reconstructions (detached), the VAE through the discriminator as it was
/// before its update (as DAC and EnCodec do; stable-audio-tools alternates steps instead).
public struct AdversarialConfig: Codable, Sendable {
    /// The step after which the stage begins (default 0: from the first step). Before it, no
    /// discriminator is run (stable-audio-tools' `warmup_steps`).
    public var start_step: Int?
    /// Channels of every discriminator convolution (default 32, EnCodec's `filters`).
    public var filters: Int?
    /// FFT sizes of the scales (default [2048, 1024, 512, 256, 128]).
    public var n_ffts: [Int]?
    /// Time dilations of the strided convolutions (default [1, 2, 4]).
    public var dilations: [Int]?
    /// Periods of HiFi-GAN period sub-discriminators added beside the STFT scales (default none,
    /// as docs/design.md §2; DAC uses [2, 3, 5, 7, 11]).
    public var periods: [Int]?
    /// The discriminator's AdamW (default: the VAE's `training.optimizer`); its learning rate
    /// follows the VAE's schedule. Its gradients are not clipped.
    public var optimizer: AdamWConfig?

    public var startStep: Int { start_step ?? 0 }

    public init(start_step: Int? = nil, filters: Int? = nil, n_ffts: [Int]? = nil, dilations: [Int]? = nil, periods: [Int]? = nil,
                optimizer: AdamWConfig? = nil) {
        self.start_step = start_step; self.filters = filters; self.n_ffts = n_ffts; self.dilations = dilations; self.periods = periods
        self.optimizer = optimizer
    }

    public func validate(file: String) throws {
        func bad(_ p: String, _ r: String) -> FormatError { .invalidValue(file: file, path: "adversarial.\(p)", reason: r) }
        if startStep < 0 { throw bad("start_step", "must be ≥ 0, got \(startStep)") }
        if let f = filters, f < 1 { throw bad("filters", "must be ≥ 1, got \(f)") }
        if let n = n_ffts, n.isEmpty || n.contains(where: { $0 < 16 || $0 % 4 != 0 }) {
            throw bad("n_ffts", "must be a non-empty list of sizes ≥ 16 divisible by 4 (hop n/4), got \(n)")
        }
        if let d = dilations, d.contains(where: { $0 < 1 }) { throw bad("dilations", "must all be ≥ 1, got \(d)") }
        if let p = periods, p.contains(where: { $0 < 2 }) || Set(p).count != p.count {
            throw bad("periods", "must be distinct periods ≥ 2, got \(p)")
        }
        do { try optimizer?.validate(file: file) } catch let FormatError.invalidValue(f, p, r) {
            throw FormatError.invalidValue(file: f, path: p.replacingOccurrences(of: "training.optimizer", with: "adversarial.optimizer"), reason: r)
        }
    }
}
