import Foundation
import TimbreData
import TimbreFormats
import TimbreLayers
import TimbreLosses
import TimbreTensor
import TimbreTrain
import TimbreVAE
import TimbreCheckpoint

/// `timbre debug dump-step` for the VAE (docs/design.md §7): one training batch with its random draws
/// (`batch.x`, `batch.eps`), every parameter (`param.<name>`), the loss and its parts (`loss`,
/// `loss.mrstft`, `loss.kl`, `loss.l1`) and every gradient (`grad.<name>`), with the model
/// configuration (the field names of docs/design.md) and the loss weights in `__metadata__`. A recipe with an
/// `adversarial` section adds the discriminator (restored from the checkpoint when it holds one):
/// its parameters (`disc.param.<name>`), the gradients of its hinge loss (`disc.grad.<name>`),
/// and `loss.discriminator`, `loss.adversarial`, `loss.feature_matching`; the step is then at
/// least the stage's first. A pitch VAE adds its decoder's inputs beside the noise: `batch.pitch`
/// (the crops' pitch channels `[B, 2r, F]`: r log-F0 then r voicing values per frame) and
/// `batch.source` (the excitation `[B, 1, T]` rendered from them, noise included), so a replay
/// needs neither YIN nor the noise stream; `decoder.source.*` are among the parameters.
public enum VAEDumpStep {
    public static func dump(checkpoint: String, corpus: String, out: String, seed: UInt64, step: Int = 1) throws -> [String: Double] {
        let (path, state) = try Checkpoints.resolve(checkpoint)
        let recipeData = try Data(contentsOf: URL(fileURLWithPath: "\(path)/recipe.json"))
        let recipe = try StrictJSON.decode(Recipe<VAEConfig>.self, from: recipeData, file: "\(path)/recipe.json")
        let task = try VAETask(recipe: recipe, file: "\(path)/recipe.json", corpus: corpus, seed: seed, jobMicroBatches: 1,
                               examplesPerStep: recipe.training.batch_size / recipe.training.microBatches, evalClips: 0)
        let weights = task.weights
        try Checkpoints.loadTensors("\(path)/model.safetensors", into: task.store.values, store: task.store)
        _ = try task.restoreAuxiliary(from: path, state: state)
        let step = task.adversary.map { max(step, $0.config.startStep + 1) } ?? step
        task.store.zeroGrads()
        let x = try task.loader.make(batch: step - 1)
        let terms = try task.run(step: step, micro: 0, of: 1)
        // the noise the step drew (rebuilt from the same stream)
        let eps = Tensor<Float>(zeros: [x.shape[0], recipe.model.latent_dim, x.shape[2] / recipe.model.hop])
        var r = RandomStream(seed: seed, UInt64(step), 0, 0xE95)
        r.fillNormal(eps)
        var holders: [Tensor<Float>] = [x, eps]
        var entries: [(String, Tensor<Float>)] = [("batch.x", x), ("batch.eps", eps)]
        if let pitch = task.lastPitch, let source = task.lastSource {
            entries += [("batch.pitch", pitch), ("batch.source", source)]
            holders += [pitch, source]
        }
        for p in task.store.params { entries.append(("param.\(p.name)", p.value)); entries.append(("grad.\(p.name)", p.grad)) }
        for p in task.adversary?.model.store.params ?? [] {
            entries.append(("disc.param.\(p.name)", p.value)); entries.append(("disc.grad.\(p.name)", p.grad))
        }
        for (k, v) in terms.sorted(by: { $0.key < $1.key }) {
            let t = Tensor<Float>([Float(v)], shape: [])
            holders.append(t)
            entries.append((k == "loss" ? "loss" : "loss.\(k)", t))
        }
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        var lossWeights = ["mrstft": weights.mrstft, "kl": weights.kl, "l1": weights.l1, "mel": weights.mel]
        var definition = "mrstft·MRSTFT(recon, x) + kl·KL(mean, softplus(scale)+1e-4) + l1·mean|recon − x| + mel·DACmel(recon, x); z = mean + std·eps"
        var meta = ["format": "timbre", "model_type": "vae", "checkpoint": path, "seed": String(seed), "step": String(step),
                    "config": String(decoding: try enc.encode(recipe.model), as: UTF8.self)]
        if weights.mrstftLong != 0 {
            lossWeights["mrstft_long"] = weights.mrstftLong
            definition += "; + mrstft_long·MRSTFT at FFT sizes 8192 and 4096 only"
        }
        if let a = task.adversary {
            meta["adversarial"] = String(decoding: try enc.encode(a.model.config), as: UTF8.self)
            lossWeights["adversarial"] = weights.adversarial; lossWeights["feature_matching"] = weights.featureMatching
            definition += "; s over the STFT scales, then the periods; + adversarial·Σ_s −mean D_s(recon) + feature_matching·Σ_s mean_l mean|F_sl(x) − F_sl(recon)| (grad.*); "
                + "discriminator (disc.grad.*): Σ_s mean relu(1 − D_s(x)) + mean relu(1 + D_s(recon)), recon detached"
        }
        if recipe.model.pitch != nil {
            definition += "; recon = decoder(z, batch.source): decoder block b adds decoder.source.b(batch.source) to its upsampled signal before its residual units"
        }
        switch recipe.model.interpolatedUpsampling {
        case .nearest?:
            definition += "; upsampling: nearest repeat by the stride, then Conv1d(k = 2·stride, padding left stride − 1, right stride, no bias)"
        case .sinc?:
            let W = NearestUpsampleConv<Float>.sincHalfWidth, rho = NearestUpsampleConv<Float>.sincCutoff
            definition += "; upsampling: u[p] = Σ_j x[j]·h_q[i] for output time m = p − (s − 1) = t·s + q, j = t − \(W - 1) + i, i < \(2 * W) "
                + "(h_q: h(τ) = \(rho)·sinc(\(rho)·τ/s)·(0.5 + 0.5·cos(πτ/(\(W)·s))) at τ = (\(W - 1) − i)·s + q − (s − 1)/2, each phase q normalised to sum 1; x zero outside), "
                + "then Conv1d(k = 2·stride, no padding over u, no bias)"
        case nil: break
        }
        meta["loss_weights"] = String(decoding: try enc.encode(lossWeights), as: UTF8.self)
        meta["loss_definition"] = definition
        try SafeTensorsWriter.write(out, entries.map { name, t in
            SafeTensorsWriter.Entry(name: name, dtype: .F32, shape: t.shape, bytes: UnsafeRawBufferPointer(start: t.data, count: t.count * 4))
        }, metadata: meta)
        withExtendedLifetime(holders) {}
        return terms
    }
}
