import Foundation
import TimbreCheckpoint
import TimbreFormats
import TimbreTensor

/// Writing checkpoints and restoring training state from them (the read side, which
/// generation uses too, is in TimbreCheckpoint).
extension Checkpoints {
    static func entries(_ store: ParameterStore<Float>, _ buffer: Tensor<Float>, prefix: String = "") -> [SafeTensorsWriter.Entry] {
        store.params.map { p in
            SafeTensorsWriter.Entry(name: prefix + p.name, dtype: .F32, shape: p.shape,
                                    bytes: UnsafeRawBufferPointer(start: buffer.data + p.offset, count: p.count * 4))
        }
    }

    /// Writes a checkpoint for `state.step` into `outDir`, then deletes all but the newest
    /// `keepLast`. Returns the checkpoint's path.
    @discardableResult
    public static func save(outDir: String, store: ParameterStore<Float>, optimizer: AdamW, ema: EMA?,
                            state: CheckpointState, recipe: Data, keepLast: Int,
                            extra: (String) throws -> [String: String] = { _ in [:] }) throws -> String {
        let fm = FileManager.default
        try fm.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        let name = directoryName(step: state.step)
        let final = "\(outDir)/\(name)", tmp = "\(outDir)/.tmp-\(name)-\(getpid())"
        try? fm.removeItem(atPath: tmp)
        try fm.createDirectory(atPath: tmp, withIntermediateDirectories: false)
        let meta = ["format": "timbre", "model_type": state.model_type, "step": String(state.step)]
        var st = state
        st.hashes["model.safetensors"] = try SafeTensorsWriter.write("\(tmp)/model.safetensors", entries(store, store.values), metadata: meta)
        if let ema {
            st.hashes["ema.safetensors"] = try SafeTensorsWriter.write("\(tmp)/ema.safetensors", entries(store, ema.values), metadata: meta)
        }
        st.hashes["optimizer.safetensors"] = try writeMoments("\(tmp)/optimizer.safetensors", store: store, optimizer: optimizer, metadata: meta)
        st.hashes.merge(try extra(tmp)) { _, new in new }
        try FileIO.writeAtomically(recipe, to: "\(tmp)/recipe.json")
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileIO.writeAtomically(try enc.encode(st), to: "\(tmp)/state.json")
        FileIO.syncDirectory(of: "\(tmp)/state.json")
        if fm.fileExists(atPath: final) {  // re-saving a step (after a resume): replace it whole
            let old = "\(outDir)/.old-\(name)-\(getpid())"
            try FileIO.rename(final, old)
            try FileIO.rename(tmp, final)
            try? fm.removeItem(atPath: old)
        } else {
            try FileIO.rename(tmp, final)
        }
        prune(outDir, keepLast: keepLast, newest: state.step)
        return final
    }

    /// Deletes checkpoints older than step `newest` (the one just saved), keeping the newest
    /// `keepLast` counting that one. Directories of later steps (another history, after a resume
    /// from an earlier checkpoint) are never deleted, nor is the one just saved.
    static func prune(_ outDir: String, keepLast: Int, newest: Int) {
        let older = stepDirectories(outDir).filter { $0.step < newest }
        for (_, path) in older.dropFirst(max(0, keepLast - 1)) { try? FileManager.default.removeItem(atPath: path) }
    }

    /// An optimizer file: AdamW's moments as `exp_avg.<name>`, `exp_avg_sq.<name>`, `t` in the
    /// metadata. Returns its SHA-256.
    static func writeMoments(_ file: String, store: ParameterStore<Float>, optimizer: AdamW, metadata: [String: String]) throws -> String {
        try SafeTensorsWriter.write(file, entries(store, optimizer.m, prefix: "exp_avg.") + entries(store, optimizer.v, prefix: "exp_avg_sq."),
                                    metadata: metadata.merging(["optimizer": "adamw", "t": String(optimizer.t)]) { a, _ in a })
    }

    static func readMoments(_ file: String, store: ParameterStore<Float>, optimizer: AdamW) throws {
        try loadTensors(file, into: optimizer.m, store: store, prefix: "exp_avg.")
        try loadTensors(file, into: optimizer.v, store: store, prefix: "exp_avg_sq.")
    }

    /// Writes a task's auxiliary model (a discriminator) into checkpoint directory `dir`:
    /// `NAME.safetensors` (its parameters) and `NAME-optimizer.safetensors` (its AdamW moments,
    /// `t` in the metadata). Returns the files' SHA-256 for `state.json`.
    public static func saveAuxiliary(_ name: String, into dir: String, store: ParameterStore<Float>, optimizer: AdamW) throws -> [String: String] {
        let meta = ["format": "timbre", "auxiliary": name]
        return [
            "\(name).safetensors": try SafeTensorsWriter.write("\(dir)/\(name).safetensors", entries(store, store.values), metadata: meta),
            "\(name)-optimizer.safetensors": try writeMoments("\(dir)/\(name)-optimizer.safetensors", store: store, optimizer: optimizer, metadata: meta),
        ]
    }

    /// Restores what `saveAuxiliary` wrote from a validated checkpoint. Returns false (and changes
    /// nothing) when the checkpoint holds no such model.
    public static func restoreAuxiliary(_ name: String, from path: String, state: CheckpointState, store: ParameterStore<Float>, optimizer: AdamW) throws -> Bool {
        guard state.hashes["\(name).safetensors"] != nil else { return false }
        let opt = "\(path)/\(name)-optimizer.safetensors"
        guard state.hashes["\(name)-optimizer.safetensors"] != nil, let t = Int(try SafeTensorsFile.read(opt).metadata["t"] ?? "") else {
            throw CheckpointError.invalid(path, "\(name).safetensors has no optimizer file with a step count 't'")
        }
        try loadTensors("\(path)/\(name).safetensors", into: store.values, store: store)
        try readMoments(opt, store: store, optimizer: optimizer)
        optimizer.t = t
        return true
    }

    /// Restores model, EMA and optimizer state from a validated checkpoint.
    public static func restore(_ path: String, state: CheckpointState, store: ParameterStore<Float>, optimizer: AdamW, ema: EMA?) throws {
        try loadTensors("\(path)/model.safetensors", into: store.values, store: store)
        try readMoments("\(path)/optimizer.safetensors", store: store, optimizer: optimizer)
        optimizer.t = state.optimizer.t
        if let ema {
            if state.hashes["ema.safetensors"] != nil {
                try loadTensors("\(path)/ema.safetensors", into: ema.values, store: store)
            } else {
                ema.values.copy(from: store.values)
            }
        }
    }
}
