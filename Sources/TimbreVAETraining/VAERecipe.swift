import Foundation
import TimbreDiscriminator
import TimbreFormats
import TimbreTrain
import TimbreVAE

extension VAEConfig: TrainableModel {
    public typealias DataSection = VAEDataConfig
    public typealias AdversarialSection = VAEAdversarialConfig
}

/// The `data` section of a VAE recipe, with its defaults.
public struct VAEDataConfig: RecipeSection {
    /// Training crop length in samples, a multiple of the hop (default 16 hops).
    public var crop_samples: Int?
    /// Corpus split to train on (default "train"); held-out metrics use "test".
    public var split: String?
    /// Held-out clips evaluated at each checkpoint (default 8).
    public var eval_clips: Int?
    /// Train on only the first N clips of the split (overfitting tests, the pitch probe).
    public var max_clips: Int?

    public init(crop_samples: Int? = nil, split: String? = nil, eval_clips: Int? = nil, max_clips: Int? = nil) {
        self.crop_samples = crop_samples; self.split = split; self.eval_clips = eval_clips; self.max_clips = max_clips
    }

    public func cropSamples(hop: Int) -> Int { crop_samples ?? 16 * hop }
    public var trainingSplit: String { split ?? "train" }
    public var evalClips: Int { eval_clips ?? 8 }

    public func validate(file: String) throws {
        func bad(_ p: String, _ r: String) -> FormatError { .invalidValue(file: file, path: "data.\(p)", reason: r) }
        if let c = crop_samples, !(1...(1 << 24)).contains(c) { throw bad("crop_samples", "must be in 1…16777216, got \(c)") }
        if let e = eval_clips, !(0...100_000).contains(e) { throw bad("eval_clips", "must be in 0…100000, got \(e)") }
        if let m = max_clips, m < 1 { throw bad("max_clips", "must be ≥ 1, got \(m)") }
    }
}

/// The `adversarial` section of a VAE recipe (docs/design.md §2): the discriminator's own keys
/// (`filters`, `n_ffts`, `dilations`, `periods`: `DiscriminatorConfig`, in the same JSON object),
/// when the stage starts, and the discriminator's optimizer. The VAE then also minimises
/// `losses.adversarial` × adversarial loss + `losses.feature_matching` × feature-matching L1.
public struct VAEAdversarialConfig: RecipeSection {
    /// The discriminator, from the section's `filters`, `n_ffts`, `dilations` and `periods`.
    public var discriminator: DiscriminatorConfig
    /// The step after which the stage begins (default 0: from the first step). Before it, no
    /// discriminator is run (stable-audio-tools' `warmup_steps`).
    public var start_step: Int?
    /// The discriminator's AdamW (default: the VAE's `training.optimizer`); its learning rate
    /// follows the VAE's schedule. Its gradients are not clipped.
    public var optimizer: AdamWConfig?

    public var startStep: Int { start_step ?? 0 }

    public init(discriminator: DiscriminatorConfig = DiscriminatorConfig(), start_step: Int? = nil, optimizer: AdamWConfig? = nil) {
        self.discriminator = discriminator; self.start_step = start_step; self.optimizer = optimizer
    }

    enum CodingKeys: String, CodingKey { case start_step, optimizer }

    public init(from decoder: Swift.Decoder) throws {
        discriminator = try DiscriminatorConfig(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        start_step = try c.decodeIfPresent(Int.self, forKey: .start_step)
        optimizer = try c.decodeIfPresent(AdamWConfig.self, forKey: .optimizer)
    }

    public func encode(to encoder: Swift.Encoder) throws {
        try discriminator.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(start_step, forKey: .start_step)
        try c.encodeIfPresent(optimizer, forKey: .optimizer)
    }

    public func validate(file: String) throws {
        if startStep < 0 { throw FormatError.invalidValue(file: file, path: "adversarial.start_step", reason: "must be ≥ 0, got \(startStep)") }
        if let p = discriminator.validate().first, let colon = p.firstIndex(of: ":") {
            throw FormatError.invalidValue(file: file, path: "adversarial.\(p[..<colon])",
                                           reason: String(p[p.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
        do { try optimizer?.validate(file: file) } catch let FormatError.invalidValue(f, p, r) {
            throw FormatError.invalidValue(file: f, path: p.replacingOccurrences(of: "training.optimizer", with: "adversarial.optimizer"), reason: r)
        }
    }
}
