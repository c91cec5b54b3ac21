import ArgumentParser
import Foundation
import TimbreMPI
import TimbreAudio
import TimbreEval
import TimbreDiT
import TimbreMetrics
import TimbreTrain

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an evaluation suite and write metrics.json, report.md and report.html.",
        discussion: """
            Suites (the recipe's "suite"):
              vae       held-out clips through --vae: SI-SDR, mel, STFT and MR-STFT
                        distances, STOI, ESTOI (and speaker similarity) per clip,
                        per speaker and overall, next to band-limited anchors and
                        --baseline. Under mpirun -np N the ranks share the clips.
              speakers  clean clips of the corpus's real speakers through the GE2E
                        encoder: same/different-speaker similarity and the EER.
              dit       --checkpoint and --vae: clone similarity against same- and
                        different-speaker baselines; whether descriptions steer
                        pitch, pace and room over many seeds.
              samples   --checkpoint and --vae: the recipe's design, clone and tune
                        prompts, for listening (Recipes/samples.json).
            --each-checkpoint scores every valid checkpoint of a VAE training \
            directory. The report folder holds the WAVs and spectrogram PNGs it \
            links; open report.html in a browser.
            """)

    @Option(help: "Evaluation recipe (Recipes/eval-NAME.json).") var recipe: String
    @Option(help: "VAE checkpoint (or training directory: its newest valid checkpoint, or a released folder).") var vae: String?
    @Option(help: "MM-DiT checkpoint (the dit suite).") var checkpoint: String?
    @Option(help: "A second checkpoint to compare against, side by side.") var baseline: String?
    @Flag(help: "Score every valid checkpoint of the --vae training directory.") var eachCheckpoint = false
    @Option(help: "Corpus directory (audio shards).") var data: String
    @Option(help: "Report directory (created).") var out: String
    @Option(help: "Speaker-encoder weights (Recipes/setup.sh fetches them).") var speakerEncoder = SpeakerEncoder.defaultWeights

    mutating func run() throws {
        let r = try EvalRecipe.load(recipe)
        let ranks = Ranks.world
        if ranks.isDistributed && r.suite != .vae {
            throw InputError("\(recipe): the '\(r.suite.rawValue)' suite runs in one process; under mpirun only the 'vae' suite shares its clips between ranks")
        }
        let run = EvalRun(recipe: r, recipePath: recipe, data: data, out: out, speakerEncoder: speakerEncoder) { Swift.print($0) }
        switch r.suite {
        case .vae:
            guard let vae else { throw ValidationError("the 'vae' suite needs --vae CK") }
            try run.vae(vae, baseline: baseline, eachCheckpoint: eachCheckpoint, ranks: ranks)
        case .speakers:
            try run.speakers()
        case .dit:
            guard let checkpoint, let vae else { throw ValidationError("the 'dit' suite needs --checkpoint DIT and --vae VAE") }
            try run.dit(checkpoint: checkpoint, vae: vae)
        case .samples:
            guard let checkpoint, let vae else { throw ValidationError("the 'samples' suite needs --checkpoint DIT and --vae VAE") }
            try run.samples(checkpoint: checkpoint, vae: vae)
        }
    }
}

struct ReportIndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report-index",
        abstract: "Write index.html and index.md over several report folders.",
        discussion: """
            Each folder is one written by timbre eval; the index shows its title and \
            headline numbers, links its report.html, and plays a samples report's \
            audio inline. Folders inside --out are linked relatively, so the whole \
            folder can be moved or served.
            """)

    @Option(help: "Folder for index.html and index.md (created).") var out: String
    @Option(help: "Page title.") var title = "Timbre reports"
    @Option(help: "A note shown prominently at the top (repeatable).") var note: [String] = []
    @Argument(help: "Report folders, in the order shown.") var reports: [String]

    func run() throws {
        try ReportIndex.write(to: out, title: title, notes: note, reports: reports)
        print("index: \(out)/index.html")
    }
}
