import ArgumentParser
import Foundation
import TimbreFormats
import TimbreTrain
import TimbreCheckpoint

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a checkpoint's inference weights as a released model folder (fp16 by default).",
        discussion: """
            The folder holds model.safetensors (the EMA weights when the checkpoint has them), the \
            recipe.json it was trained with, and release.json (step, dtype, SHA-256 of the weights \
            and of the source checkpoint's model.safetensors). Every command that takes a \
            checkpoint (vae reconstruct/encode, eval, generate) also takes such a folder. It has no \
            optimizer state, so training cannot resume from it (--init-from works from the \
            checkpoint itself).
            """)

    @Option(help: "Checkpoint (or training directory: its newest valid checkpoint).") var checkpoint: String
    @Option(help: "Output folder (replaced if it exists).") var out: String
    @Option(help: "f16 or f32.") var dtype = "f16"

    mutating func run() throws {
        let d: SafeDType
        switch dtype.lowercased() {
        case "f16": d = .F16
        case "f32": d = .F32
        default: throw ValidationError("--dtype must be f16 or f32, got '\(dtype)'")
        }
        let info = try Release.export(checkpoint: checkpoint, to: out, dtype: d)
        let size = (try? FileManager.default.attributesOfItem(atPath: "\(out)/model.safetensors")[.size] as? Int) ?? 0
        print(String(format: "%@: %@ model, step %d, %d parameters, %@ %@ weights, %.1f MB (sha256 %@)",
                     out, info.model_type, info.step, info.parameters, info.dtype, info.weights, Double(size) / 1e6, String(info.sha256.prefix(16))))
    }
}
