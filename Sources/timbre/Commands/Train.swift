import ArgumentParser
import Foundation
import TimbreTrain

/// Options every `timbre train …` command shares (SPEC §7).
struct TrainOptions: ParsableArguments {
    @Option(help: "Recipe JSON (see Recipes/).")
    var recipe: String

    @Option(help: "Output directory: checkpoints go to OUT/step-XXXXXXXX/, metrics to OUT/metrics.jsonl.")
    var out: String

    @Option(help: "Train to this many steps instead of the recipe's training.steps.")
    var steps: Int?

    @Option(help: "Continue a run: 'auto' takes the newest valid checkpoint in --out (or starts fresh if none); or a checkpoint path.")
    var resume: String?

    @Option(name: .customLong("init-from"), help: "Start from these weights (checkpoint or training directory) with fresh optimizer state, for fine-tuning.")
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

    func trainerOptions(training: TrainingConfig, recipe data: Data, seed: UInt64) -> TrainerOptions {
        var o = TrainerOptions(outDir: out, training: training, recipe: data, seed: seed)
        o.resume = resumeMode
        o.initFrom = initFrom
        o.steps = steps
        o.quiet = quiet
        return o
    }
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model from a recipe.",
        discussion: "A killed run continues with --resume auto; SIGINT or SIGTERM saves a checkpoint and exits 0.",
        subcommands: [TrainMLP.self])
}

struct TrainMLP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlp",
        abstract: "Train the toy MLP regression (a smoke test of the training loop; Recipes/mlp-tiny.json).")

    @OptionGroup var options: TrainOptions

    mutating func run() throws {
        let (recipe, data) = try Recipe<ToyConfig>.load(options.recipe, expecting: "mlp")
        let seed = recipe.seed ?? 0
        let task = ToyRegression(config: recipe.model, batchSize: recipe.training.batch_size, seed: seed)
        let trainer = Trainer(task: task, options: options.trainerOptions(training: recipe.training, recipe: data, seed: seed))
        try trainer.run()
    }
}
