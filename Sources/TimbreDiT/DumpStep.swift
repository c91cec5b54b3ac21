import Foundation
import TimbreData
import TimbreFormats
import TimbreTensor
import TimbreTrain

/// `timbre debug dump-step` for the MM-DiT (SPEC §7): one training micro-batch with every input
/// and random draw — `batch.target` (x_t), `batch.velocity` (x₁ − x₀), `batch.t`,
/// `batch.reference`, `batch.target_frames`, `batch.reference_frames`, `batch.script`,
/// `batch.description` (I64, `<pad>` = 256; a dropped segment is a row of padding, a dropped
/// reference has 0 frames) — every parameter, the loss and every gradient.
public enum DiTDumpStep {
    public static func dump(checkpoint: String, latents: String, out: String, seed: UInt64, step: Int = 1) throws -> [String: Double] {
        let (path, _) = try Checkpoints.resolve(checkpoint)
        let recipeData = try Data(contentsOf: URL(fileURLWithPath: "\(path)/recipe.json"))
        let recipe = try StrictJSON.decode(Recipe<DiTConfig>.self, from: recipeData, file: "\(path)/recipe.json")
        let task = try DiTTask(config: recipe.model, data: recipe.data ?? DataConfig(), latents: latents,
                               batchSize: recipe.training.batch_size / recipe.training.microBatches, microBatches: 1, seed: seed)
        try Checkpoints.loadTensors("\(path)/model.safetensors", into: task.store.values, store: task.store)
        task.store.zeroGrads()
        let (batch, v) = task.makeBatch(step - 1, step: step, micro: 0)
        let terms = try task.run(step: step, micro: 0, of: 1)
        var floats: [(String, Tensor<Float>)] = [("batch.target", batch.target), ("batch.velocity", v), ("batch.reference", batch.reference),
                                                 ("batch.t", Tensor(batch.t, shape: [batch.t.count]))]
        for p in task.store.params { floats.append(("param.\(p.name)", p.value)); floats.append(("grad.\(p.name)", p.grad)) }
        for (k, val) in terms.sorted(by: { $0.key < $1.key }) where k != "mse" { floats.append((k == "loss" ? "loss" : "loss.\(k)", Tensor([Float(val)], shape: []))) }
        let ints: [(String, [Int64], [Int])] = [
            ("batch.target_frames", batch.targetFrames.map(Int64.init), [batch.targetFrames.count]),
            ("batch.reference_frames", batch.referenceFrames.map(Int64.init), [batch.referenceFrames.count]),
            ("batch.script", batch.script.flatMap { $0.map(Int64.init) }, [batch.script.count, batch.script.first?.count ?? 0]),
            ("batch.description", batch.description.flatMap { $0.map(Int64.init) }, [batch.description.count, batch.description.first?.count ?? 0]),
        ]
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        let meta = ["format": "timbre", "model_type": "dit", "checkpoint": path, "seed": String(seed), "step": String(step),
                    "config": String(decoding: try enc.encode(recipe.model), as: UTF8.self),
                    "loss_weights": "{\"flow_mse\":1}",
                    "loss_definition": "mean over valid target elements of (model(batch) − velocity)²; target = t·x₁ + (1−t)·x₀, velocity = x₁ − x₀; latents normalised by latent.mean/std"]
        var entries = floats.map { name, t in
            SafeTensorsWriter.Entry(name: name, dtype: .F32, shape: t.shape, bytes: UnsafeRawBufferPointer(start: t.data, count: t.count * 4))
        }
        let intBuffers = ints.map { ($0.0, $0.1.withUnsafeBytes { Data($0) }, $0.2) }
        try intBuffers[0].1.withUnsafeBytes { b0 in try intBuffers[1].1.withUnsafeBytes { b1 in
            try intBuffers[2].1.withUnsafeBytes { b2 in try intBuffers[3].1.withUnsafeBytes { b3 in
                for (k, b) in [b0, b1, b2, b3].enumerated() {
                    entries.append(SafeTensorsWriter.Entry(name: intBuffers[k].0, dtype: .I64, shape: intBuffers[k].2, bytes: b))
                }
                _ = try SafeTensorsWriter.write(out, entries, metadata: meta)
            } }
        } }
        withExtendedLifetime(floats) {}
        return terms
    }
}
