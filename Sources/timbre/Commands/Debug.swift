import ArgumentParser
import Foundation
import TimbreDiT
import TimbreTrain
import TimbreVAE
import TimbreCheckpoint
import TimbreVAETraining
import TimbreDiTTraining

struct Debug: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Tools for checking Timbre against outside references.",
                                                    subcommands: [DumpStep.self, Fuzz.self])

    struct DumpStep: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dump-step",
            abstract: "Write one training batch, its random draws, all parameters, the loss and all gradients to safetensors.",
            discussion: """
                Names: batch.* (inputs and random draws), param.<name>, grad.<name>, loss and loss.<part>; \
                __metadata__ holds the model configuration (the field names of docs/design.md) and the loss weights, so a \
                reference implementation can replay the step and compare every gradient. Models: vae \
                (--data: a corpus), dit (--data: latent shards). A VAE trained with an adversarial \
                section adds its discriminator: disc.param.<name>, disc.grad.<name> (the gradients of \
                its hinge loss) and loss.discriminator, loss.adversarial, loss.feature_matching.
                """)

        @Option(help: "Checkpoint (or training directory).") var checkpoint: String
        @Option(help: "Corpus directory the batch is drawn from.") var data: String
        @Option(help: "Output .safetensors file.") var out: String
        @Option(help: "Seed for the batch and its random draws.") var seed: UInt64 = 1

        mutating func run() throws {
            let (_, state) = try Checkpoints.resolve(checkpoint)
            switch state.model_type {
            case "vae":
                let terms = try VAEDumpStep.dump(checkpoint: checkpoint, corpus: data, out: out, seed: seed)
                print("wrote \(out): " + terms.keys.sorted().map { String(format: "%@ %.6g", $0, terms[$0]!) }.joined(separator: ", "))
            case "dit":
                let terms = try DiTDumpStep.dump(checkpoint: checkpoint, latents: data, out: out, seed: seed)
                print("wrote \(out): " + terms.keys.sorted().map { String(format: "%@ %.6g", $0, terms[$0]!) }.joined(separator: ", "))
            default:
                throw ValidationError("dump-step does not support '\(state.model_type)' checkpoints (supported: vae, dit)")
            }
        }
    }
}
