import Foundation
import TimbreFormats
import TimbreTensor
import TimbreTrain
import TimbreCheckpoint

/// `timbre bench checkpoint`: save and load of a model's weights and AdamW moments, fsync
/// included, against `dd if=CHECKPOINT-FILE of=COPY bs=8M conv=fsync`: the same bytes to the same disk.
public enum CheckpointBench {
    public struct Result: Sendable {
        public var parameters: Int, bytes: Int
        public var saveSeconds: Double, loadSeconds: Double, ddSeconds: Double
        public var saveMBs: Double { Double(bytes) / saveSeconds / 1e6 }
        public var loadMBs: Double { Double(bytes) / loadSeconds / 1e6 }
        public var ddMBs: Double { Double(bytes) / ddSeconds / 1e6 }
    }

    public static func run(parameters: Int, directory: String, repeats: Int = 3) throws -> Result {
        // A model-like store: 2-D weights of 1024 columns plus a bias each.
        let store = ParameterStore<Float>()
        var left = parameters, i = 0
        while left > 0 {
            let rows = min(1024, max(1, left / 1025))
            _ = store.root.child("layers").child(i).param("weight", [rows, 1024], .weight, .uniform(bound: 0.03))
            _ = store.root.child("layers").child(i).param("bias", [rows], .bias, .zeros)
            left -= rows * 1025; i += 1
        }
        store.finalize(seed: 1)
        let opt = AdamW(store, AdamWConfig(lr: 1e-3))
        Kernels.axpy(store.count, 0.5, store.values.data, opt.m.data)
        Kernels.axpy(store.count, 0.25, store.values.data, opt.v.data)
        let out = "\(directory)/timbre-bench-checkpoint-\(getpid())"
        try? FileManager.default.removeItem(atPath: out)
        defer { try? FileManager.default.removeItem(atPath: out) }
        let state = CheckpointState(model_type: "bench", step: 1, data_cursor: [:], seed: 1,
                                    optimizer: .init(t: 0, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0),
                                    bad_steps: 0, skipped_steps: 0, hashes: [:], parameters: store.count, created: "")
        var saveT = Double.infinity, loadT = Double.infinity, ddT = Double.infinity
        let bytes = 3 * store.count * 4
        // Alternate the save and dd so both see the same disk and page-cache conditions; dd copies
        // the checkpoint's own files (not /dev/zero: this VM's disk writes zero blocks far faster
        // than data). Old checkpoints are deleted between rounds, outside the timed region.
        for r in 0..<repeats {
            var st = state
            st.step = r + 1
            let t0 = Bench.now()
            let path = try Checkpoints.save(outDir: out, store: store, optimizer: opt, ema: nil, state: st, recipe: Data("{}".utf8),
                                            keepLast: repeats + 1)
            saveT = min(saveT, Bench.now() - t0)
            let t1 = Bench.now()
            let valid = try Checkpoints.validate(path)
            try Checkpoints.restore(path, state: valid, store: store, optimizer: opt, ema: nil)
            loadT = min(loadT, Bench.now() - t1)
            var d = 0.0
            for f in ["model.safetensors", "optimizer.safetensors"] { d += try dd(from: "\(path)/\(f)", to: "\(out)/dd-\(f)") }
            ddT = min(ddT, d)
            try? FileManager.default.removeItem(atPath: path)
        }
        return Result(parameters: store.count, bytes: bytes, saveSeconds: saveT, loadSeconds: loadT, ddSeconds: ddT)
    }

    /// Wall time of `dd if=SOURCE of=FILE bs=8M conv=fsync` (the source is in the page cache).
    static func dd(from source: String, to file: String) throws -> Double {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/dd")
        p.arguments = ["if=\(source)", "of=\(file)", "bs=8M", "conv=fsync"]
        p.standardError = FileHandle.nullDevice
        let t0 = Bench.now()
        try p.run()
        p.waitUntilExit()
        let t = Bench.now() - t0
        try? FileManager.default.removeItem(atPath: file)
        return t
    }
}
