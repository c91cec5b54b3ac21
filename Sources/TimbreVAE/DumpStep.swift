import Foundation
import TimbreData
import TimbreFormats
import TimbreLosses
import TimbreTensor
import TimbreTrain

/// `timbre debug dump-step` for the VAE (SPEC §7): one training batch with its random draws
/// (`batch.x`, `batch.eps`), every parameter (`param.<name>`), the loss and its parts (`loss`,
/// `loss.mrstft`, `loss.kl`, `loss.l1`) and every gradient (`grad.<name>`), with the model
/// configuration (SPEC field names) and the loss weights in `__metadata__`.
public enum VAEDumpStep {
    public static func dump(checkpoint: String, corpus: String, out: String, seed: UInt64, step: Int = 1) throws -> [String: Double] {
        let (path, _) = try Checkpoints.resolve(checkpoint)
        let recipeData = try Data(contentsOf: URL(fileURLWithPath: "\(path)/recipe.json"))
        let recipe = try StrictJSON.decode(Recipe<VAEConfig>.self, from: recipeData, file: "\(path)/recipe.json")
        let weights = try VAELossWeights(recipe.losses, file: "\(path)/recipe.json")
        let task = try VAETask(config: recipe.model, weights: weights, corpus: corpus, split: recipe.data?.split ?? "train",
                               cropSamples: recipe.data?.crop_samples ?? 16 * recipe.model.hop,
                               batchSize: recipe.training.batch_size / recipe.training.microBatches, microBatches: 1, seed: seed,
                               evalClips: 0, maxClips: recipe.data?.max_clips)
        try Checkpoints.loadTensors("\(path)/model.safetensors", into: task.store.values, store: task.store)
        task.store.zeroGrads()
        let x = try task.loader.make(batch: step - 1)
        let terms = try task.run(step: step, micro: 0, of: 1)
        // the noise the step drew (rebuilt from the same stream)
        let eps = Tensor<Float>(zeros: [x.shape[0], recipe.model.latent_dim, x.shape[2] / recipe.model.hop])
        var r = RandomStream(seed: seed, UInt64(step), 0, 0xE95)
        r.fillNormal(eps)
        var holders: [Tensor<Float>] = [x, eps]
        var entries: [(String, Tensor<Float>)] = [("batch.x", x), ("batch.eps", eps)]
        for p in task.store.params { entries.append(("param.\(p.name)", p.value)); entries.append(("grad.\(p.name)", p.grad)) }
        for (k, v) in terms.sorted(by: { $0.key < $1.key }) {
            let t = Tensor<Float>([Float(v)], shape: [])
            holders.append(t)
            entries.append((k == "loss" ? "loss" : "loss.\(k)", t))
        }
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        let meta = ["format": "timbre", "model_type": "vae", "checkpoint": path, "seed": String(seed), "step": String(step),
                    "config": String(decoding: try enc.encode(recipe.model), as: UTF8.self),
                    "loss_weights": String(decoding: try enc.encode(["mrstft": weights.mrstft, "kl": weights.kl, "l1": weights.l1, "mel": weights.mel]), as: UTF8.self),
                    "loss_definition": "mrstft·MRSTFT(recon, x) + kl·KL(mean, softplus(scale)+1e-4) + l1·mean|recon − x| + mel·DACmel(recon, x); z = mean + std·eps"]
        try SafeTensorsWriter.write(out, entries.map { name, t in
            SafeTensorsWriter.Entry(name: name, dtype: .F32, shape: t.shape, bytes: UnsafeRawBufferPointer(start: t.data, count: t.count * 4))
        }, metadata: meta)
        withExtendedLifetime(holders) {}
        return terms
    }
}
