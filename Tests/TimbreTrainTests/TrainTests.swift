import Foundation
import XCTest
import TimbreTestSupport
import TimbreFormats
import TimbreTensor
import TimbreTrain
import TimbreCheckpoint
import TimbreToy

func tempDir(_ tag: String) -> String { TestSupport.tempDir(tag) }

func toyRecipe(steps: Int = 40, every: Int = 10, micro: Int = 2, ema: Bool = true, maxBad: Int = 3) -> (TrainingConfig, Data) {
    let json = """
    {"steps": \(steps), "batch_size": 16, "micro_batches": \(micro),
     "optimizer": {"lr": 0.003, "weight_decay": 0.1},
     "schedule": {"kind": "cosine", "warmup_steps": 5, "min_lr_ratio": 0.1},
     "grad_clip": 1.0, \(ema ? #""ema": {"decay": 0.99},"# : "") "checkpoint_every": \(every), "keep_last": 2, "max_bad_steps": \(maxBad)}
    """
    let cfg = try! StrictJSON.decode(TrainingConfig.self, from: Data(json.utf8), file: "t.json")
    return (cfg, Data(json.utf8))
}

final class OptimizerTests: XCTestCase {
    /// Two AdamW steps against the formula evaluated in Double, with weight decay only on the
    /// `weight` kind.
    func testAdamWMatchesReferenceFormula() {
        let store = ParameterStore<Float>()
        let w = store.root.param("w", [3], .weight, .constant(0.5))
        let b = store.root.param("b", [2], .bias, .constant(-1))
        store.finalize()
        let cfg = AdamWConfig(lr: 0.1, betas: [0.8, 0.9], eps: 1e-6, weight_decay: 0.5)
        let opt = AdamW(store, cfg)
        var theta = store.values.array.map(Double.init), m = [Double](repeating: 0, count: 5), v = m
        let grads: [[Double]] = [[0.1, -0.2, 0.3, 1, -1], [0.05, 0.4, -0.3, 2, 0]]
        for (t, g) in grads.enumerated() {
            for i in 0..<5 { store.grads[i] = Float(g[i]) }
            opt.update(lr: 0.1)
            for i in 0..<5 {
                if i < 3 { theta[i] *= 1 - 0.1 * 0.5 }
                m[i] = 0.8 * m[i] + 0.2 * g[i]; v[i] = 0.9 * v[i] + 0.1 * g[i] * g[i]
                let bc1 = 1 - pow(0.8, Double(t + 1)), bc2 = 1 - pow(0.9, Double(t + 1))
                theta[i] -= 0.1 / bc1 * m[i] / ((v[i]).squareRoot() / bc2.squareRoot() + 1e-6)
            }
        }
        for i in 0..<5 { XCTAssertEqual(Double(store.values[i]), theta[i], accuracy: 1e-6) }
        XCTAssertEqual(w.value.count + b.value.count, 5)
    }

    func testSchedulesAndEMAWarmup() {
        let cos = ScheduleConfig(kind: "cosine", warmup_steps: 10, min_lr_ratio: 0.1)
        XCTAssertEqual(cos.factor(step: 5, total: 110), 0.5, accuracy: 1e-12)
        XCTAssertEqual(cos.factor(step: 10, total: 110), 1, accuracy: 1e-12)
        XCTAssertEqual(cos.factor(step: 60, total: 110), 0.55, accuracy: 1e-12)
        XCTAssertEqual(cos.factor(step: 110, total: 110), 0.1, accuracy: 1e-12)
        let isq = ScheduleConfig(kind: "inverse_sqrt", warmup_steps: 4, min_lr_ratio: nil)
        XCTAssertEqual(isq.factor(step: 16, total: 100), 0.5, accuracy: 1e-12)
        XCTAssertEqual(ScheduleConfig(kind: "constant", warmup_steps: nil, min_lr_ratio: nil).factor(step: 7, total: 9), 1)
        let store = ParameterStore<Float>()
        _ = store.root.param("p", [1], .weight, .constant(0))
        store.finalize()
        let ema = EMA(store, EMAConfig(decay: 0.999, warmup: true))
        XCTAssertEqual(ema.decay(at: 1), 2.0 / 11.0, accuracy: 1e-12)
        XCTAssertEqual(ema.decay(at: 100_000), 0.999)
        store.values[0] = 1
        ema.update(store, t: 1)
        XCTAssertEqual(Double(ema.values[0]), 9.0 / 11.0, accuracy: 1e-6)
    }

    func testClippingScalesToMaxNorm() {
        let store = ParameterStore<Float>()
        _ = store.root.param("p", [2], .weight, .zeros)
        store.finalize()
        store.grads[0] = 3; store.grads[1] = 4
        XCTAssertEqual(clipGradients(store, maxNorm: 1), 5, accuracy: 1e-9)
        XCTAssertEqual(Double(store.grads[0]), 0.6, accuracy: 1e-5)
    }
}

final class StoredRecipeTests: XCTestCase {
    /// Loading a model for inference reads its stored recipe's `model` section strictly and
    /// passes over the sections only training reads, without knowing their types.
    func testModelSectionIsStrictTrainingSectionsOpaque() throws {
        let good = #"{"model_type": "mlp", "seed": 3, "model": {"inputs": 6, "hidden": 16, "outputs": 3}, "#
            + #""training": {"steps": 4, "batch_size": 2, "optimizer": {"lr": 0.001, "betas": [0.9, 0.99]}}, "losses": {"mse": 1}}"#
        let r = try StrictJSON.decode(StoredRecipe<ToyConfig>.self, from: Data(good.utf8), file: "recipe.json")
        XCTAssertEqual([r.model.inputs, r.model.hidden, r.model.outputs], [6, 16, 3])
        XCTAssertEqual(r.seed, 3)
        let inModel = good.replacingOccurrences(of: #""outputs": 3}"#, with: #""outputs": 3, "depth": 2}"#)
        XCTAssertThrowsError(try StrictJSON.decode(StoredRecipe<ToyConfig>.self, from: Data(inModel.utf8), file: "recipe.json")) {
            XCTAssertTrue("\($0)".contains("unknown key 'model.depth'"), "\($0)")
        }
        let topLevel = good.replacingOccurrences(of: #""seed": 3"#, with: #""seed": 3, "trainer": {}"#)
        XCTAssertThrowsError(try StrictJSON.decode(StoredRecipe<ToyConfig>.self, from: Data(topLevel.utf8), file: "recipe.json")) {
            XCTAssertTrue("\($0)".contains("unknown key 'trainer'"), "\($0)")
        }
    }
}

final class TrainerTests: XCTestCase {
    func makeTrainer(_ out: String, steps: Int = 40, resume: ResumeMode = .fresh, initFrom: String? = nil, maxBad: Int = 3,
                     poison: Set<Int> = [], freeze: [String]? = nil) -> Trainer<ToyRegression> {
        var (cfg, data) = toyRecipe(steps: steps, maxBad: maxBad)
        cfg.freeze = freeze
        let task = ToyRegression(config: ToyConfig(inputs: 6, hidden: 16, outputs: 3), batchSize: 16, seed: 5)
        task.poisonSteps = poison
        var o = TrainerOptions(outDir: out, training: cfg, recipe: data, seed: 5)
        o.resume = resume; o.initFrom = initFrom; o.quiet = true
        return Trainer(task: task, options: o, log: { _ in })
    }

    func losses(_ out: String) -> [Int: Double] {
        let text = (try? String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8)) ?? ""
        var r: [Int: Double] = [:]
        for line in text.split(separator: "\n") {
            let o = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            if let l = o["loss"] as? Double { r[o["step"] as! Int] = l }
        }
        return r
    }

    func testTrainingReducesLossAndCheckpointsRoundTrip() throws {
        let out = tempDir("train")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let t = makeTrainer(out)
        try t.run()
        let l = losses(out)
        XCTAssertEqual(l.count, 40)
        XCTAssertLessThan(l[40]!, l[1]! * 0.7, "loss falls")
        XCTAssertEqual(Checkpoints.stepDirectories(out).map(\.step), [40, 30], "keep_last 2")
        let (path, state) = try Checkpoints.resolve(out)
        XCTAssertEqual(state.step, 40)
        XCTAssertEqual(state.optimizer.t, 40)
        // restore into a fresh model: identical parameters, moments and EMA
        let u = makeTrainer(tempDir("train2"))
        try Checkpoints.restore(path, state: state, store: u.task.store, optimizer: u.optimizer, ema: u.ema)
        XCTAssertEqual(u.task.store.values.array, t.task.store.values.array)
        XCTAssertEqual(u.optimizer.v.array, t.optimizer.v.array)
        XCTAssertEqual(u.ema!.values.array, t.ema!.values.array)
        // a fresh run refuses to overwrite existing checkpoints
        XCTAssertThrowsError(try makeTrainer(out).run()) { XCTAssertTrue("\($0)".contains("--resume auto")) }
    }

    func testCorruptCheckpointIsNeverLoaded() throws {
        let out = tempDir("corrupt")
        defer { try? FileManager.default.removeItem(atPath: out) }
        try makeTrainer(out, steps: 20).run()
        let newest = out + "/step-00000020/model.safetensors"
        let h = FileHandle(forUpdatingAtPath: newest)!
        h.seek(toFileOffset: 200); h.write(Data([0x42, 0x42])); try h.close()
        XCTAssertThrowsError(try Checkpoints.validate(out + "/step-00000020")) { XCTAssertTrue("\($0)".contains("SHA-256"), "\($0)") }
        // --resume auto falls back to the older valid checkpoint
        XCTAssertEqual(Checkpoints.newestValid(out)?.state.step, 10)
        // a half-written checkpoint (no state.json) is skipped too
        try FileManager.default.createDirectory(atPath: out + "/step-00000030", withIntermediateDirectories: true)
        XCTAssertEqual(Checkpoints.newestValid(out)?.state.step, 10)
    }

    func testShapeMismatchNamesTensorAndShapes() throws {
        let out = tempDir("shape")
        defer { try? FileManager.default.removeItem(atPath: out) }
        try makeTrainer(out, steps: 10).run()
        let other = ToyRegression(config: ToyConfig(inputs: 7, hidden: 16, outputs: 3), batchSize: 16, seed: 5)
        XCTAssertThrowsError(try Checkpoints.loadTensors(out + "/step-00000010/model.safetensors", into: other.store.values, store: other.store)) {
            XCTAssertTrue("\($0)".contains("tensor 'fc1.weight' has shape [16, 6], expected [16, 7]"), "\($0)")
        }
    }

    func testNonFiniteStepsAreSkippedThenStop() throws {
        let out = tempDir("nan")
        defer { try? FileManager.default.removeItem(atPath: out) }
        // two bad steps in a row (limit 3): skipped, training goes on
        let t = makeTrainer(out, steps: 20, poison: [12, 13])
        try t.run()
        let text = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8)
        XCTAssertTrue(text.contains(#""reason":"loss term 'loss' = nan","skipped":true,"step":12"#), text)
        XCTAssertEqual(t.optimizer.t, 18, "two updates skipped")
        // three in a row: stops with an error naming the last good checkpoint, which stays valid
        let out2 = tempDir("nan2")
        defer { try? FileManager.default.removeItem(atPath: out2) }
        XCTAssertThrowsError(try makeTrainer(out2, steps: 40, poison: [22, 23, 24]).run()) { e in
            XCTAssertTrue("\(e)".contains("step 24 after 3 consecutive steps"), "\(e)")
            XCTAssertTrue("\(e)".contains("step-00000020"), "\(e)")
        }
        XCTAssertEqual(try Checkpoints.validate(out2 + "/step-00000020").step, 20)
    }

    func testHugeFiniteGradientsAreClippedAndLogged() throws {
        let out = tempDir("huge")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let t = makeTrainer(out, steps: 12)
        t.task.hugeGradientSteps = [5]
        try t.run()
        XCTAssertEqual(t.optimizer.t, 12, "the step is clipped, not skipped")
        let lines = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let step5 = try XCTUnwrap(lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .first { $0["step"] as? Int == 5 && $0["eval"] == nil })
        let norm = try XCTUnwrap(step5["grad_norm"] as? Double)
        XCTAssertTrue(norm.isFinite && norm > 1e25, "grad_norm \(norm)")
        XCTAssertTrue(t.task.store.values.array.allSatisfy(\.isFinite))
    }

    func testMetricsLogWritesNonFiniteAsNull() throws {
        let out = tempDir("nulls")
        defer { try? FileManager.default.removeItem(atPath: out) }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let log = try MetricsLog(path: out + "/m.jsonl")
        try log.write(["step": 1, "x": Double.infinity, "eval": ["f0_rmse": Double.nan, "mel": 1.5]])
        let text = try String(contentsOfFile: out + "/m.jsonl", encoding: .utf8)
        XCTAssertEqual(text, #"{"eval":{"f0_rmse":null,"mel":1.5},"step":1,"x":null}"# + "\n")
    }

    func testInitFromStartsFreshOptimizer() throws {
        let src = tempDir("src"), dst = tempDir("dst")
        defer { try? FileManager.default.removeItem(atPath: src); try? FileManager.default.removeItem(atPath: dst) }
        let a = makeTrainer(src, steps: 10)
        try a.run()
        let b = makeTrainer(dst, steps: 1, initFrom: src)
        let msg = try b.prepare()
        XCTAssertTrue(msg.contains("fresh optimizer state"), msg)
        XCTAssertEqual(b.step, 0)
        XCTAssertEqual(b.optimizer.t, 0)
        XCTAssertEqual(b.task.store.values.array, a.ema!.values.array, "fine-tuning starts from the EMA weights")
    }

    /// `training.freeze`: frozen parameters keep their values exactly (no update, no weight decay),
    /// the rest train, and a prefix that names nothing is refused with the model's name roots.
    func testFreezeKeepsParametersFixed() throws {
        let out = tempDir("freeze")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let t = makeTrainer(out, steps: 20, freeze: ["fc1.", "norm"])
        let before = t.task.store.values.array
        try t.run()
        let after = t.task.store.values.array, ema = try XCTUnwrap(t.ema).values.array
        for p in t.task.store.params {
            let r = p.offset..<(p.offset + p.count)
            let changed = zip(before[r], after[r]).contains { $0 != $1 }
            let isFrozen = p.name.hasPrefix("fc1.") || p.name.hasPrefix("norm")
            XCTAssertEqual(changed, !isFrozen, p.name)
            // the EMA of a frozen parameter is the parameter, bit for bit (no blend rounding)
            if isFrozen { XCTAssertEqual(Array(ema[r]), Array(before[r]), "EMA of frozen \(p.name)") }
        }
        let l = losses(out)
        XCTAssertLessThan(l[20]!, l[1]!, "the unfrozen layers still learn")
        let bad = tempDir("freeze-bad")
        defer { try? FileManager.default.removeItem(atPath: bad) }
        XCTAssertThrowsError(try makeTrainer(bad, steps: 2, freeze: ["encoder."]).run()) {
            XCTAssertTrue("\($0)".contains("'encoder.' names no parameter of this mlp (its names start with 'fc1.', 'fc2.', 'norm.', 'out.')"), "\($0)")
        }
        XCTAssertThrowsError(try makeTrainer(bad, steps: 2, freeze: ["fc", "out", "norm"]).run()) {
            XCTAssertTrue("\($0)".contains("freezes every parameter"), "\($0)")
        }
    }

    /// The reference library reads what Timbre writes (CI installs numpy and safetensors).
    func testPythonSafetensorsReadsCheckpoint() throws {
        let out = tempDir("py")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let t = makeTrainer(out, steps: 10)
        try t.run()
        let file = out + "/step-00000010/optimizer.safetensors"
        let obj = try TestSupport.python("dump_safetensors.py", [file]) as! [String: [String: Any]]
        XCTAssertEqual(obj.count, 2 * t.task.store.params.count)
        for prm in t.task.store.params {
            for (prefix, buf) in [("exp_avg.", t.optimizer.m), ("exp_avg_sq.", t.optimizer.v)] {
                let e = obj[prefix + prm.name]!
                XCTAssertEqual(e["dtype"] as? String, "float32")
                XCTAssertEqual(e["shape"] as? [Int], prm.shape)
                let vals = (0..<prm.count).map { Double(buf[prm.offset + $0]) }
                XCTAssertEqual(e["sum"] as! Double, vals.reduce(0, +), accuracy: 1e-9 * Double(prm.count))
                // exact float32 values (the JSON text round-trip is exact only to float32 here)
                XCTAssertEqual((e["first"] as! [Double]).map(Float.init), vals.prefix(3).map(Float.init))
            }
        }
    }
}
