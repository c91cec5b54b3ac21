import Foundation
import TimbreData
import TimbreDiT
import TimbreFormats
import TimbreTensor
import TimbreTrain
import TimbreCheckpoint

/// `timbre debug dump-step` for the MM-DiT (docs/design.md §7): one training micro-batch with every input
/// and random draw — `batch.target` (x_t), `batch.velocity` (x₁ − x₀), `batch.t`,
/// `batch.reference`, `batch.target_frames`, `batch.reference_frames`, `batch.script`,
/// `batch.description` (I64, `<pad>` = 256; a dropped segment is a row of padding, a dropped
/// reference has 0 frames) — every parameter, the loss and every gradient.
public enum DiTDumpStep {
    public static func dump(checkpoint: String, latents: String, out: String, seed: UInt64, step: Int = 1) throws -> [String: Double] {
        let (path, _) = try Checkpoints.resolve(checkpoint)
        let recipeData = try Data(contentsOf: URL(fileURLWithPath: "\(path)/recipe.json"))
        let recipe = try StrictJSON.decode(Recipe<DiTConfig>.self, from: recipeData, file: "\(path)/recipe.json")
        let task = try DiTTask(recipe: recipe, latents: latents, seed: seed, jobMicroBatches: 1,
                               examplesPerStep: recipe.training.batch_size / recipe.training.microBatches)
        try Checkpoints.loadTensors("\(path)/model.safetensors", into: task.store.values, store: task.store)
        task.store.zeroGrads()
        let (batch, v) = task.makeBatch(step - 1, step: step, micro: 0)
        let terms = try task.run(step: step, micro: 0, of: 1)
        var entries: [SafeTensorsWriter.OwnedEntry] = []
        func add(_ name: String, _ t: Tensor<Float>) { entries.append(.init(name: name, dtype: .F32, shape: t.shape, values: t.buffer)) }
        add("batch.target", batch.target); add("batch.velocity", v); add("batch.reference", batch.reference)
        add("batch.t", Tensor(batch.t, shape: [batch.t.count]))
        for p in task.store.params { add("param.\(p.name)", p.value); add("grad.\(p.name)", p.grad) }
        for (k, val) in terms.sorted(by: { $0.key < $1.key }) where k != "mse" { add(k == "loss" ? "loss" : "loss.\(k)", Tensor([Float(val)], shape: [])) }
        func ints(_ name: String, _ rows: [[Int]]) {
            entries.append(.init(name: name, dtype: .I64, shape: [rows.count, rows.first?.count ?? 0], values: rows.joined().map(Int64.init)))
        }
        entries.append(.init(name: "batch.target_frames", dtype: .I64, shape: [batch.targetFrames.count], values: batch.targetFrames.map(Int64.init)))
        entries.append(.init(name: "batch.reference_frames", dtype: .I64, shape: [batch.referenceFrames.count], values: batch.referenceFrames.map(Int64.init)))
        ints("batch.script", batch.script); ints("batch.description", batch.description)
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        let meta = ["format": "timbre", "model_type": "dit", "checkpoint": path, "seed": String(seed), "step": String(step),
                    "config": String(decoding: try enc.encode(recipe.model), as: UTF8.self),
                    "loss_weights": "{\"flow_mse\":1}",
                    "loss_definition": "mean over valid target elements of (model(batch) − velocity)²; target = t·x₁ + (1−t)·x₀, velocity = x₁ − x₀; latents normalised by latent.mean/std"]
        try SafeTensorsWriter.write(out, owned: entries, metadata: meta)
        return terms
    }
}
