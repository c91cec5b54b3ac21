import ArgumentParser
import Foundation
import TimbreDiT
import TimbreMPI
import TimbreTrain
import TimbreVAE
import TimbreCheckpoint
import TimbreVAETraining
import TimbreDiTTraining
import TimbreToy

/// Options every `timbre train …` command shares (docs/design.md §7).
struct TrainOptions: ParsableArguments {
    @Option(help: "Recipe JSON (see Recipes/).")
    var recipe: String

    @Option(help: "Output directory: checkpoints go to OUT/step-XXXXXXXX/, metrics to OUT/metrics.jsonl.")
    var out: String

    @Option(help: "Train to this many steps instead of the recipe's training.steps.")
    var steps: Int?

    @Option(help: "Continue a run: 'auto' takes the newest valid checkpoint in --out (or starts fresh if none); or a checkpoint path.")
    var resume: String?

    @Option(name: .customLong("init-from"), help: "Start from these weights (checkpoint, training directory or released folder) with fresh optimizer state, for fine-tuning (with a recipe's training.freeze, of part of the model).")
    var initFrom: String?

    @Flag(help: "No progress output.")
    var quiet = false

    func validate() throws {
        if let s = steps, s < 1 { throw ValidationError("--steps must be ≥ 1, got \(s)") }
        if resume != nil && initFrom != nil { throw ValidationError("--resume and --init-from exclude each other: resume continues a run, init-from starts a new one") }
    }

    var resumeMode: ResumeMode {
        switch resume {
        case nil: return .fresh
        case "auto": return .auto
        case let p?: return .path(p)
        }
    }

    /// The step's micro-batches over the whole job: under `mpirun -np N` each of the N ranks runs
    /// the recipe's `micro_batches` (docs/distributed.md).
    func jobMicroBatches(_ t: TrainingConfig) throws -> Int {
        let n = Ranks.world.size, m = t.microBatches
        guard t.batch_size % (n * m) == 0 else {
            throw InputError("\(recipe): training.batch_size \(t.batch_size) must divide by ranks × micro_batches = \(n) × \(m) = \(n * m): "
                + "each rank runs micro_batches micro-batches of batch_size / (ranks × micro_batches) examples")
        }
        return n * m
    }

    /// What every train command reads first: the recipe (checked), its exact bytes (stored in
    /// every checkpoint), its seed and the job's micro-batches per step.
    func load<M: TrainableModel>(_ model: M.Type, expecting modelType: String) throws -> LoadedRecipe<M> {
        let (recipe, bytes) = try Recipe<M>.load(self.recipe, expecting: modelType)
        return LoadedRecipe(recipe: recipe, bytes: bytes, seed: recipe.seed ?? 0, jobMicroBatches: try jobMicroBatches(recipe.training))
    }

    /// Trains `task` as these options and the recipe say; `evaluate` runs at each checkpoint.
    func train<Task: TrainingTask, M>(_ task: Task, _ loaded: LoadedRecipe<M>, evaluate: ((Int) throws -> [String: Double])? = nil) throws {
        var o = TrainerOptions(outDir: out, training: loaded.recipe.training, recipe: loaded.bytes, seed: loaded.seed)
        o.resume = resumeMode
        o.initFrom = initFrom
        o.steps = steps
        o.quiet = quiet
        let trainer = Trainer(task: task, options: o)
        trainer.evaluate = evaluate
        try trainer.run()
    }
}

/// A recipe as `TrainOptions.load` read it.
struct LoadedRecipe<M: TrainableModel> {
    let recipe: Recipe<M>
    let bytes: Data
    let seed: UInt64
    let jobMicroBatches: Int
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model from a recipe.",
        discussion: "A killed run continues with --resume auto; SIGINT or SIGTERM saves a checkpoint and exits 0.",
        subcommands: [TrainVAE.self, TrainDiT.self, TrainMLP.self])
}

struct TrainMLP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlp",
        abstract: "Train the toy MLP regression (a smoke test of the training loop; Recipes/mlp-tiny.json).")

    @OptionGroup var options: TrainOptions

    @Option(name: .customLong("nan-gradient-at"), help: ArgumentHelp("Make the gradient of this micro-batch NaN, numbered (step − 1) · micro-batches + micro over the job (a test of the non-finite guard).", visibility: .hidden))
    var nanGradientAt: [Int] = []

    mutating func run() throws {
        let loaded = try options.load(ToyConfig.self, expecting: "mlp")
        let task = ToyRegression(config: loaded.recipe.model, batchSize: loaded.recipe.training.batch_size, seed: loaded.seed)
        task.nanGradientMicroBatches = Set(nanGradientAt)
        try options.train(task, loaded)
    }
}

struct TrainVAE: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae",
        abstract: "Train the waveform VAE on random crops of a corpus (Recipes/vae-*.json).",
        discussion: """
            Loss: w_mrstft·MR-STFT + w_kl·KL + w_l1·L1 + w_mel·mel (recipe `losses`). With an \
            `adversarial` section (docs/design.md §2), from its start_step a multi-scale STFT discriminator \
            trains alongside (hinge loss) and the VAE adds w_adversarial·adversarial + \
            w_feature_matching·feature matching (defaults 0.1 and 5.0); the discriminator and its \
            optimizer are saved in every checkpoint (discriminator*.safetensors), never in the \
            model's weights. Held-out reconstruction metrics of the corpus's test split are logged \
            at every checkpoint.
            """)

    @OptionGroup var options: TrainOptions

    @Option(help: "Corpus directory (from `timbre corpus build`).")
    var data: String

    mutating func run() throws {
        let loaded = try options.load(VAEConfig.self, expecting: "vae")
        let task = try VAETask(recipe: loaded.recipe, file: options.recipe, corpus: data, seed: loaded.seed, jobMicroBatches: loaded.jobMicroBatches)
        task.loader.rankLayout = (local: loaded.recipe.training.microBatches, job: loaded.jobMicroBatches)
        try options.train(task, loaded) { _ in try task.evaluate() }
    }
}

struct TrainDiT: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dit",
        abstract: "Train the MM-DiT by flow matching on latent shards (Recipes/dit-*.json).",
        discussion: """
            Whole utterances (no crops) are bucketed by length; each example gets a reference (another \
            utterance of its speaker, or a variant of the same utterance) and its script and \
            description, with the recipe's task mixture and condition dropout (docs/design.md §3.2). Loss: MSE \
            of the predicted velocity over valid target frames, t logit-normal. The latent statistics \
            of the shards are stored in the checkpoint. --vae must be the VAE that encoded the shards \
            (its SHA-256 is checked against theirs).
            """)

    @OptionGroup var options: TrainOptions

    @Option(help: "Latent shards (from `timbre vae encode`).")
    var data: String

    @Option(help: "The VAE that encoded them (checkpoint, training directory or released folder).")
    var vae: String

    mutating func run() throws {
        let loaded = try options.load(DiTConfig.self, expecting: "dit")
        let task = try DiTTask(recipe: loaded.recipe, latents: data, seed: loaded.seed, jobMicroBatches: loaded.jobMicroBatches)
        let hashes = try VAEIdentity.hashes(vae)
        guard hashes.contains(task.corpus.vaeCheckpoint) else {
            throw ValidationError("\(data) was encoded by the VAE with model SHA-256 \(task.corpus.vaeCheckpoint.prefix(16))…, not by \(vae) (\(hashes.map { String($0.prefix(16)) + "…" }.joined(separator: " or ")))")
        }
        try options.train(task, loaded)
    }
}

/// The SHA-256s that identify a VAE: its model.safetensors, and for a released folder also the
/// source checkpoint's.
enum VAEIdentity {
    static func hashes(_ ck: String) throws -> Set<String> {
        if Release.isRelease(ck) {
            let info = try Release.validate(ck)
            return [info.sha256, info.source_model_sha256]
        }
        let (_, state) = try Checkpoints.resolve(ck)
        return Set([state.hashes["model.safetensors"]].compactMap { $0 })
    }
}
