import Foundation
import TimbreFormats

/// `release.json` beside a released model's `model.safetensors` and `recipe.json`.
public struct ReleaseInfo: Codable, Sendable {
    public var format = "timbre.release"
    public var model_type: String
    /// Optimizer steps of the checkpoint it came from.
    public var step: Int
    /// "F16" or "F32".
    public var dtype: String
    /// Which weights: "ema" or "model".
    public var weights: String
    public var parameters: Int
    /// SHA-256 of `model.safetensors` here, and of the source checkpoint's `model.safetensors`.
    public var sha256: String
    public var source_model_sha256: String
    public var created: String
}

/// A released model: a folder with `model.safetensors` (inference weights only, F16 or F32),
/// `recipe.json` and `release.json`. Loads wherever a checkpoint does; it cannot resume training.
public enum Release {
    /// Writes `out` from checkpoint `ck` (its EMA weights when it has them), atomically (temp folder + rename).
    @discardableResult
    public static func export(checkpoint ck: String, to out: String, dtype: SafeDType = .F16) throws -> ReleaseInfo {
        precondition(dtype == .F16 || dtype == .F32)
        let (path, state) = try Checkpoints.resolve(ck)
        let weights = state.hashes["ema.safetensors"] != nil ? "ema" : "model"
        let src = try SafeTensorsFile.read("\(path)/\(weights).safetensors")
        var entries: [SafeTensorsWriter.OwnedEntry] = []
        for t in src.tensors {
            let f = try src.floats(t.name)
            if let bad = f.firstIndex(where: { !$0.isFinite }) {
                throw CheckpointError.invalid(path, "\(weights).safetensors: \(t.name)[\(bad)] is \(f[bad])")
            }
            if dtype == .F16 {
                // Float16 holds ±65504; anything larger would become infinity.
                if let big = f.first(where: { abs($0) > 65504 }) {
                    throw CheckpointError.invalid(path, "\(t.name) holds \(big), beyond Float16's range; export as F32")
                }
                entries.append(.init(name: t.name, dtype: .F16, shape: t.shape, values: f.map { Float16($0).bitPattern }))
            } else {
                entries.append(.init(name: t.name, dtype: .F32, shape: t.shape, values: f))
            }
        }
        let tmp = out + ".tmp-\(getpid())"
        try? FileManager.default.removeItem(atPath: tmp)
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        let hash = try SafeTensorsWriter.write("\(tmp)/model.safetensors", owned: entries, metadata: [
            "format": "timbre", "model_type": state.model_type, "step": String(state.step), "weights": weights,
        ])
        try FileManager.default.copyItem(atPath: "\(path)/recipe.json", toPath: "\(tmp)/recipe.json")
        let info = ReleaseInfo(model_type: state.model_type, step: state.step, dtype: dtype.rawValue, weights: weights,
                               parameters: state.parameters, sha256: hash, source_model_sha256: state.hashes["model.safetensors"] ?? "",
                               created: ISO8601DateFormatter().string(from: Date()))
        let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileIO.writeAtomically(try enc.encode(info), to: "\(tmp)/release.json")
        if FileManager.default.fileExists(atPath: out) { try FileManager.default.removeItem(atPath: out) }
        try FileIO.rename(tmp, out)
        return info
    }

    /// Reads and verifies a released model folder (hash of model.safetensors against release.json).
    public static func validate(_ dir: String) throws -> ReleaseInfo {
        let info = try StrictJSON.decode(ReleaseInfo.self, fromFile: "\(dir)/release.json")
        guard info.format == "timbre.release" else { throw CheckpointError.invalid(dir, "release.json format is '\(info.format)'") }
        let h = try SHA256.hex(ofFile: "\(dir)/model.safetensors")
        guard h == info.sha256 else { throw CheckpointError.invalid(dir, "model.safetensors has SHA-256 \(h), release.json says \(info.sha256)") }
        return info
    }

    public static func isRelease(_ dir: String) -> Bool { FileManager.default.fileExists(atPath: "\(dir)/release.json") }
}
