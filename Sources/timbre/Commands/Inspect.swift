import ArgumentParser
import Foundation
import TimbreFormats
import TimbreTrain
import TimbreCheckpoint

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a checkpoint or safetensors file holds.",
        discussion: """
            PATH may be a checkpoint directory (step-XXXXXXXX), a training output directory (its \
            newest valid checkpoint is shown), a released model folder (timbre export) or a \
            .safetensors file. Prints every tensor's name, \
            dtype and shape (and how many NaN or infinite values it holds, if any), the parameter count, and for checkpoints the step and the recipe.
            """)

    @Argument(help: "Checkpoint directory, training directory, released folder or .safetensors file.")
    var path: String

    @Flag(help: "Print the recipe stored in the checkpoint.")
    var recipe = false

    @OptionGroup var report: JSONReportOption

    /// `--json`: what the file holds (and, for a checkpoint or release, its step and type).
    struct Result: Encodable {
        struct TensorInfo: Encodable { var name: String, dtype: String, shape: [Int], non_finite: Int }
        var kind: String, path: String, file: String
        var model_type: String?, step: Int?, parameters: Int?
        var metadata: [String: String], tensors: [TensorInfo]
    }

    mutating func run() throws {
        let (header, storedRecipe, file) = try describeContainer()
        header.lines.forEach { print($0) }
        if recipe, let storedRecipe { print(storedRecipe) }
        var result = try describeTensors(file)
        (result.kind, result.model_type, result.step, result.parameters) = (header.kind, header.modelType, header.step, header.parameters)
        try report.write(result)
    }

    /// What holds the weights: a released folder, a checkpoint, or the file itself.
    struct Header {
        var kind = "safetensors", modelType: String?, step: Int?, parameters: Int?
        var lines: [String] = []
    }

    /// The header lines of `path`, its stored recipe (if any) and the weights file to list.
    func describeContainer() throws -> (Header, String?, String) {
        var h = Header()
        let recipeText = { (dir: String) in FileManager.default.contents(atPath: "\(dir)/recipe.json").map { String(decoding: $0, as: UTF8.self) } }
        if Release.isRelease(path) {
            let info = try Release.validate(path)
            (h.kind, h.modelType, h.step, h.parameters) = ("release", info.model_type, info.step, info.parameters)
            h.lines = ["released model \(path)",
                       "model_type \(info.model_type), step \(info.step), \(info.parameters) parameters, \(info.dtype) \(info.weights) weights, created \(info.created)",
                       "model.safetensors SHA-256 \(info.sha256) (verified); source checkpoint's \(info.source_model_sha256)"]
            return (h, recipeText(path), "\(path)/model.safetensors")
        }
        guard !path.hasSuffix(".safetensors") else { return (h, nil, path) }
        let (dir, state) = try Checkpoints.resolve(path)
        (h.kind, h.modelType, h.step, h.parameters) = ("checkpoint", state.model_type, state.step, state.parameters)
        h.lines = ["checkpoint \(dir)",
                   "model_type \(state.model_type), step \(state.step), \(state.parameters) parameters, seed \(state.seed), saved \(state.created)",
                   "optimizer adamw t=\(state.optimizer.t) lr=\(state.optimizer.lr); skipped steps \(state.skipped_steps); data cursor \(state.data_cursor)",
                   "files: " + state.hashes.keys.sorted().joined(separator: ", ") + " (SHA-256 verified)"]
        return (h, recipeText(dir), "\(dir)/model.safetensors")
    }

    /// Prints every tensor of `file` (name, dtype, shape, non-finite count) and returns them.
    func describeTensors(_ file: String) throws -> Result {
        var result = Result(kind: "safetensors", path: path, file: file, metadata: [:], tensors: [])
        let f = try SafeTensorsFile.read(file)
        result.metadata = f.metadata
        print("\(file): \(f.tensors.count) tensors, \(f.tensors.reduce(0) { $0 + $1.count }) values")
        if !f.metadata.isEmpty { print("metadata: " + f.metadata.keys.sorted().map { "\($0)=\(f.metadata[$0]!)" }.joined(separator: " ")) }
        let w = min(60, f.tensors.map(\.name.count).max() ?? 10)
        for t in f.tensors.sorted(by: { $0.name < $1.name }) {
            var n = 0
            if [.F32, .F16, .BF16, .F64].contains(t.dtype) {
                n = try f.floats(t.name, allowNonFinite: true).withUnsafeBufferPointer { NonFinite.scan($0).count }
            }
            result.tensors.append(.init(name: t.name, dtype: t.dtype.rawValue, shape: t.shape, non_finite: n))
            print(t.name.padding(toLength: max(w, t.name.count), withPad: " ", startingAt: 0) + "  \(t.dtype.rawValue)  \(t.shape)" + (n > 0 ? "  \(n) NaN/Inf" : ""))
        }
        let bad = result.tensors.filter { $0.non_finite > 0 }
        print(bad.isEmpty ? "non-finite values: none"
                          : "non-finite values: \(bad.reduce(0) { $0 + $1.non_finite }) in \(bad.count) tensor\(bad.count == 1 ? "" : "s") (\(bad.prefix(5).map(\.name).joined(separator: ", "))\(bad.count > 5 ? ", …" : "")); this file cannot be loaded")
        return result
    }
}
