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
        var file = path
        var result = Result(kind: "safetensors", path: path, file: path, metadata: [:], tensors: [])
        if Release.isRelease(path) {
            let info = try Release.validate(path)
            print("released model \(path)")
            print("model_type \(info.model_type), step \(info.step), \(info.parameters) parameters, \(info.dtype) \(info.weights) weights, created \(info.created)")
            print("model.safetensors SHA-256 \(info.sha256) (verified); source checkpoint's \(info.source_model_sha256)")
            if recipe, let r = FileManager.default.contents(atPath: "\(path)/recipe.json") { print(String(decoding: r, as: UTF8.self)) }
            file = "\(path)/model.safetensors"
            (result.kind, result.model_type, result.step, result.parameters) = ("release", info.model_type, info.step, info.parameters)
        } else if !path.hasSuffix(".safetensors") {
            let (dir, state) = try Checkpoints.resolve(path)
            print("checkpoint \(dir)")
            print("model_type \(state.model_type), step \(state.step), \(state.parameters) parameters, seed \(state.seed), saved \(state.created)")
            print("optimizer adamw t=\(state.optimizer.t) lr=\(state.optimizer.lr); skipped steps \(state.skipped_steps); data cursor \(state.data_cursor)")
            print("files: " + state.hashes.keys.sorted().joined(separator: ", ") + " (SHA-256 verified)")
            if recipe, let r = FileManager.default.contents(atPath: "\(dir)/recipe.json") { print(String(decoding: r, as: UTF8.self)) }
            file = "\(dir)/model.safetensors"
            (result.kind, result.model_type, result.step, result.parameters) = ("checkpoint", state.model_type, state.step, state.parameters)
        }
        let f = try SafeTensorsFile.read(file)
        print("\(file): \(f.tensors.count) tensors, \(f.tensors.reduce(0) { $0 + $1.count }) values")
        if !f.metadata.isEmpty { print("metadata: " + f.metadata.keys.sorted().map { "\($0)=\(f.metadata[$0]!)" }.joined(separator: " ")) }
        let w = min(60, f.tensors.map(\.name.count).max() ?? 10)
        var bad: [(String, Int)] = []
        (result.file, result.metadata) = (file, f.metadata)
        for t in f.tensors.sorted(by: { $0.name < $1.name }) {
            var note = "", n = 0
            if [.F32, .F16, .BF16, .F64].contains(t.dtype) {
                let x = try f.floats(t.name, allowNonFinite: true)
                n = x.withUnsafeBufferPointer { NonFinite.scan($0).count }
                if n > 0 { note = "  \(n) NaN/Inf"; bad.append((t.name, n)) }
            }
            result.tensors.append(.init(name: t.name, dtype: t.dtype.rawValue, shape: t.shape, non_finite: n))
            print(t.name.padding(toLength: max(w, t.name.count), withPad: " ", startingAt: 0) + "  \(t.dtype.rawValue)  \(t.shape)" + note)
        }
        print(bad.isEmpty ? "non-finite values: none"
                          : "non-finite values: \(bad.reduce(0) { $0 + $1.1 }) in \(bad.count) tensor\(bad.count == 1 ? "" : "s") (\(bad.prefix(5).map(\.0).joined(separator: ", "))\(bad.count > 5 ? ", …" : "")); this file cannot be loaded")
        try report.write(result)
    }
}
