import Dispatch
import Foundation
import TimbreFormats
import TimbreTensor

/// `state.json` of a checkpoint (docs/design.md §5).
public struct CheckpointState: Codable, Sendable, Equatable {
    public var format = "timbre.checkpoint"
    public var version = 1
    public var model_type: String
    /// Optimizer updates completed.
    public var step: Int
    /// The data source's position (epoch, cursor, …), as the task defines it.
    public var data_cursor: [String: Int]
    public var seed: UInt64
    public var optimizer: OptimizerState
    /// Non-finite guard: consecutive bad steps at save time, and all skipped so far.
    public var bad_steps: Int
    public var skipped_steps: Int
    /// SHA-256 (hex) of each tensor file in the directory.
    public var hashes: [String: String]
    public var parameters: Int
    public var created: String

    public struct OptimizerState: Codable, Sendable, Equatable {
        public var kind = "adamw"
        public var t: Int
        public var lr: Double, beta1: Double, beta2: Double, eps: Double, weight_decay: Double
        public init(t: Int, lr: Double, beta1: Double, beta2: Double, eps: Double, weight_decay: Double) {
            self.t = t; self.lr = lr; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weight_decay = weight_decay
        }
    }

    public init(model_type: String, step: Int, data_cursor: [String: Int], seed: UInt64, optimizer: OptimizerState,
                bad_steps: Int, skipped_steps: Int, hashes: [String: String], parameters: Int, created: String) {
        self.model_type = model_type; self.step = step; self.data_cursor = data_cursor; self.seed = seed
        self.optimizer = optimizer; self.bad_steps = bad_steps; self.skipped_steps = skipped_steps
        self.hashes = hashes; self.parameters = parameters; self.created = created
    }
}

/// Errors about checkpoints, naming the path.
public enum CheckpointError: Error, CustomStringConvertible {
    case notFound(String)
    case invalid(String, String)
    public var description: String {
        switch self {
        case .notFound(let p): return "\(p): no valid checkpoint found (a checkpoint is a step-XXXXXXXX directory with state.json)"
        case .invalid(let p, let r): return "\(p): invalid checkpoint: \(r)"
        }
    }
}

/// Checkpoint directories (written by TimbreTrain's `Checkpoints.save`): `OUT/step-XXXXXXXX/` holding `model.safetensors`,
/// `ema.safetensors` (if EMA is on), `optimizer.safetensors` (AdamW moments as `exp_avg.<name>`,
/// `exp_avg_sq.<name>`), `state.json` and `recipe.json`. A directory is written under a temporary
/// name and renamed when complete; loading checks every file's SHA-256 against `state.json`.
public enum Checkpoints {
    public static func directoryName(step: Int) -> String { String(format: "step-%08d", step) }

    /// Step directories in `outDir`, newest first.
    public static func stepDirectories(_ outDir: String) -> [(step: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: outDir)) ?? []
        return names.compactMap { n -> (Int, String)? in
            guard n.hasPrefix("step-"), let s = Int(n.dropFirst(5)) else { return nil }
            return (s, "\(outDir)/\(n)")
        }.sorted { $0.0 > $1.0 }
    }

    /// Reads `state.json` and checks every listed file's hash.
    public static func validate(_ path: String) throws -> CheckpointState {
        let statePath = "\(path)/state.json"
        guard let data = FileManager.default.contents(atPath: statePath) else { throw CheckpointError.invalid(path, "no state.json") }
        let state: CheckpointState
        do { state = try JSONDecoder().decode(CheckpointState.self, from: data) } catch {
            throw CheckpointError.invalid(path, "state.json is unreadable (\(error))")
        }
        guard state.format == "timbre.checkpoint" else { throw CheckpointError.invalid(path, "state.json format is '\(state.format)'") }
        guard state.hashes["model.safetensors"] != nil else { throw CheckpointError.invalid(path, "state.json lists no model.safetensors hash") }
        // Files are hashed concurrently (one per core).
        let files = state.hashes.keys.sorted()
        let actual = HashResults(files.count)
        DispatchQueue.concurrentPerform(iterations: files.count) { i in
            actual.set(i, Result { try SHA256.hex(ofFile: "\(path)/\(files[i])") })
        }
        for (i, file) in files.enumerated() {
            let h = try actual.get(i)
            guard h == state.hashes[file] else {
                throw CheckpointError.invalid(path, "\(file) has SHA-256 \(h), state.json says \(state.hashes[file]!)")
            }
        }
        return state
    }

    /// The newest checkpoint in `outDir` that validates (invalid ones are reported and skipped).
    public static func newestValid(_ outDir: String, log: (String) -> Void = { _ in }) -> (path: String, state: CheckpointState)? {
        for (_, path) in stepDirectories(outDir) {
            do { return (path, try validate(path)) } catch { log("skipping \(error)") }
        }
        return nil
    }

    /// `CK` as the commands take it: a checkpoint directory, or a training output directory
    /// (then its newest valid checkpoint).
    public static func resolve(_ ck: String) throws -> (path: String, state: CheckpointState) {
        if FileManager.default.fileExists(atPath: "\(ck)/state.json") { return (ck, try validate(ck)) }
        guard let found = newestValid(ck) else { throw CheckpointError.notFound(ck) }
        return found
    }

    /// The weights a checkpoint (or released folder) offers for inference or fine-tuning: its path,
    /// the file to load (EMA weights when a checkpoint has them, docs/design.md §3.6; a release holds only
    /// those), the SHA-256 that identifies the model and the step it was saved at, after checking
    /// it holds a `modelType` model.
    public static func inferenceWeights(_ ck: String, modelType: String) throws -> (path: String, weights: String, modelHash: String, step: Int) {
        let path: String, type: String, weights: String, hash: String, step: Int
        if Release.isRelease(ck) {
            let info = try Release.validate(ck)
            (path, type, weights, hash, step) = (ck, info.model_type, "\(ck)/model.safetensors", info.sha256, info.step)
        } else {
            let (p, state) = try resolve(ck)
            let file = state.hashes["ema.safetensors"] != nil ? "ema.safetensors" : "model.safetensors"
            (path, type, weights, hash, step) = (p, state.model_type, "\(p)/\(file)", state.hashes["model.safetensors"] ?? "", state.step)
        }
        guard type == modelType else { throw CheckpointError.invalid(path, "holds a '\(type)' model, not '\(modelType)'") }
        return (path, weights, hash, step)
    }

    /// For inference: `inferenceWeights` and the model section of the recipe it was trained with.
    public static func forInference<M: ModelConfig>(_ ck: String, modelType: String, model: M.Type) throws -> (path: String, model: M, weights: String, modelHash: String) {
        let (path, weights, hash, _) = try inferenceWeights(ck, modelType: modelType)
        let recipe = try StrictJSON.decode(StoredRecipe<M>.self, fromFile: "\(path)/recipe.json")
        try recipe.model.check(file: "\(path)/recipe.json")
        try ModelLimits.requireMemory(recipe.model.parameterEstimate * 8, for: "loading this model", file: "\(path)/recipe.json")
        return (path, recipe.model, weights, hash)
    }

    /// Loads parameters named as in `store` from a safetensors file into `buffer` (a flat buffer
    /// laid out like the store's), verifying every name and shape.
    public static func loadTensors(_ file: String, into buffer: Tensor<Float>, store: ParameterStore<Float>, prefix: String = "") throws {
        let f = try SafeTensorsFile.read(file)
        for p in store.params { try f.copyFloats(prefix + p.name, shape: p.shape, into: buffer.data + p.offset) }
        let expected = Set(store.params.map { prefix + $0.name })
        let extra = f.tensors.map(\.name).filter { $0.hasPrefix(prefix) && !expected.contains($0) }
        if !extra.isEmpty {
            throw FormatError.malformed(file, "holds tensors this model does not have: \(extra.prefix(5).joined(separator: ", "))\(extra.count > 5 ? ", …" : "")")
        }
    }

}

/// Results written by concurrent workers, one slot each.
final class HashResults: @unchecked Sendable {
    private var slots: [Result<String, Error>?]
    private let lock = NSLock()
    init(_ n: Int) { slots = Array(repeating: nil, count: n) }
    func set(_ i: Int, _ r: Result<String, Error>) { lock.lock(); slots[i] = r; lock.unlock() }
    func get(_ i: Int) throws -> String { try slots[i]!.get() }
}
