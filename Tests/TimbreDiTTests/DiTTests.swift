import Foundation
import XCTest
import TimbreData
import TimbreDiT
import TimbreTensor
import TimbreTestSupport
import TimbreTrain
import TimbreDiTTraining

final class DiTTests: XCTestCase {
    static let cfg = DiTConfig(d_audio: 32, d_text: 24, layers: 2, heads: 2, head_dim: 16, ff_audio: 64, ff_text: 48, latent_dim: 4, patch: 2)

    /// Padding and absent segments change nothing: each example of a padded batch gets the
    /// velocity it gets alone.
    func testPaddedBatchEqualsSingleExamples() {
        let store = ParameterStore<Float>()
        let model = DiT<Float>(Self.cfg, store: store, seed: 1)
        var r = RandomStream(seed: 4)
        r.fillNormal(store.values, std: 0.3)  // non-zero gates and output
        let a = Tensor<Float>(zeros: [1, 8, 4]), ref = Tensor<Float>(zeros: [1, 6, 4]), b = Tensor<Float>(zeros: [1, 4, 4])
        r.fillNormal(a); r.fillNormal(ref); r.fillNormal(b)
        let sa = ByteTokens.encode("Hello"), da = ByteTokens.encode("calm"), sb = ByteTokens.encode("Hi")
        let va = model.forward(DiTBatch(target: a, targetFrames: [8], reference: ref, referenceFrames: [6], script: [sa], description: [da], t: [0.3])).array
        let vb = model.forward(DiTBatch(target: b, targetFrames: [4], reference: Tensor(zeros: [1, 0, 4]), referenceFrames: [0],
                                        script: [sb], description: [[]], t: [0.7])).array
        // Batch: b padded to 8 frames, no reference, no description.
        let target = Tensor<Float>(zeros: [2, 8, 4]), refs = Tensor<Float>(zeros: [2, 6, 4])
        for i in 0..<32 { target[i] = a[i] }
        for i in 0..<16 { target[32 + i] = b[i]; target[48 + i] = 9 }  // garbage in the padding
        for i in 0..<24 { refs[i] = ref[i]; refs[24 + i] = -7 }
        let v = model.forward(DiTBatch(target: target, targetFrames: [8, 4], reference: refs, referenceFrames: [6, 0],
                                       script: ByteTokens.pad([sa, sb]), description: ByteTokens.pad([da, []]), t: [0.3, 0.7])).array
        for i in 0..<32 { XCTAssertEqual(v[i], va[i], accuracy: 1e-5 * max(1, abs(va[i])), "example 0, value \(i)") }
        for i in 0..<16 { XCTAssertEqual(v[32 + i], vb[i], accuracy: 1e-5 * max(1, abs(vb[i])), "example 1, value \(i)") }
    }

    /// No forward or backward pass reads memory it did not write: with `StoragePool.poison`
    /// (every buffer handed out with unspecified contents is NaN first) three passes — padded
    /// batches, absent segments, a smaller batch that reuses every workspace — give exactly the
    /// velocities and gradients they give without it.
    func testPassesReadNoUninitialisedMemory() {
        func run() -> [Float] {
            let store = ParameterStore<Float>()
            let model = DiT<Float>(Self.cfg, store: store, seed: 1)
            var r = RandomStream(seed: 4)
            r.fillNormal(store.values, std: 0.3)
            var out: [Float] = []
            for (frames, refs, scripts) in [([8, 4], [6, 0], ["Hello", "Hi"]), ([8, 6], [4, 4], ["A longer one", ""]), ([4], [0], ["x"])] {
                let B = frames.count, F = frames.max()!, R = refs.max()!
                let target = Tensor<Float>(zeros: [B, F, 4]), reference = Tensor<Float>(zeros: [B, R, 4])
                r.fillNormal(target); r.fillNormal(reference)
                let batch = DiTBatch(target: target, targetFrames: frames, reference: reference, referenceFrames: refs,
                                     script: ByteTokens.pad(scripts.map { ByteTokens.encode($0) }),
                                     description: ByteTokens.pad(scripts.map { $0.isEmpty ? [] : ByteTokens.encode("calm") }),
                                     t: (0..<B).map { 0.2 + 0.5 * Float($0) })
                store.zeroGrads()
                let v = model.forward(batch)
                let dv = Tensor<Float>(zeros: v.shape)
                r.fillNormal(dv)
                let (dTarget, dReference) = model.backward(dv, batch: batch)
                out += v.array + store.grads.array + dTarget.array + dReference.array
            }
            return out
        }
        let clean = run(), poisoned = StoragePool.withPoison(run)
        let i = TestSupport.firstDifference(poisoned, clean)
        XCTAssertNil(i, "output \(i ?? 0): \(poisoned[i ?? 0]) with poison, \(clean[i ?? 0]) without")
    }

    /// Synthetic latent shards: clip i is a distinct pattern of 24 frames with its own script and description.
    static func writeShards(_ dir: String, clips: Int) throws {
        var lat: [[Float]] = [], metas: [ClipMeta] = []
        for i in 0..<clips {
            var z = [Float](repeating: 0, count: 24 * 4)
            for f in 0..<24 { for d in 0..<4 { z[f * 4 + d] = Float(1.5 * sin(2 * Double.pi * Double(f) / 24 * Double(i + 1) + Double(d) * (1 + Double(i)))) } }
            lat.append(z)
            metas.append(ClipMeta(utterance_id: "u\(i)", speaker: "s\(i % 2)", text: ["one", "two words", "three small words", "four"][i % 4],
                                  description: ["calm", "fast", "slow and deep", "bright"][i % 4], language: "en", variant: "u\(i)", attributes: "{}"))
        }
        try LatentShardWriter.write(dir + "/train-00000.latent.h5", latents: lat, dim: 4, metas: metas,
                                    info: LatentShardInfo(vaeCheckpoint: "synthetic", hop: 2048, mean: [0, 0, 0, 0], std: [1, 1, 1, 1]))
    }

    /// A tiny DiT trained on four clips regenerates each from its script and description: the
    /// latent MSE to the original is far below the MSE between different clips.
    func testOverfitRegeneratesClipsFromConditions() throws {
        let dir = TestSupport.tempDir("dit")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeShards(dir, clips: 4)
        var data = DiTDataConfig()
        data.p_reference = 0; data.p_drop_all = 0; data.p_drop_script = 0; data.p_drop_description = 0.2
        let task = try DiTTask(config: Self.cfg, data: data, latents: dir, batchSize: 4, microBatches: 1, seed: 2)
        _ = try task.initialiseFresh()
        let opt = AdamW(task.store, AdamWConfig(lr: 3e-3, betas: [0.9, 0.99], weight_decay: 0))
        var first = 0.0, last = 0.0
        let steps = 2000
        for s in 1...steps {
            task.store.zeroGrads()
            let l = try task.run(step: s, micro: 0, of: 1)["loss"]!
            clipGradients(task.store, maxNorm: 1)
            opt.update(lr: 3e-3 * (s < 20 ? Double(s) / 20 : 0.5 * (1 + cos(Double.pi * Double(s - 20) / Double(steps - 20)))) + 1e-5)
            if s <= 20 { first += l / 20 }
            if s > steps - 20 { last += l / 20 }
        }
        XCTAssertLessThan(last, first / 3, "flow-matching loss \(first) → \(last)")
        var o = SamplerOptions()
        o.steps = 16; o.cfgText = 1; o.sway = 0
        var own = 0.0, other = 0.0, n = 0.0
        for i in 0..<4 {
            let m = task.corpus.metas[i]
            let z = DiTSampler.sample(task.model, Conditions(script: m.text, description: m.description), frames: 24, options: o)
            for j in 0..<4 {
                let mse = zip(z, task.corpus.clips[j]).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(z.count)
                if i == j { own += mse / 4 } else { other += mse; n += 1 }
            }
        }
        other /= n
        print(String(format: "DiT overfit: loss %.3f → %.3f; regenerated latents: MSE %.4f to their own clip, %.4f to the others", first, last, own, other))
        XCTAssertLessThan(own, other / 4, "MSE to own clip \(own), to other clips \(other)")
        // The conditioning-use probe of the eval suite: this model leans on its text, so its flow
        // loss at a low t is higher with another clip's script and description, and with none.
        var lossOwn = 0.0, lossSwapped = 0.0, lossNone = 0.0
        for i in 0..<4 {
            let m = task.corpus.metas[i], o = task.corpus.metas[(i + 1) % 4], z = Array(task.corpus.clips[i].prefix(24 * Self.cfg.latent_dim))
            lossOwn += DiTSampler.flowLoss(task.model, z, Conditions(script: m.text, description: m.description), t: 0.2, seed: UInt64(i))
            lossSwapped += DiTSampler.flowLoss(task.model, z, Conditions(script: o.text, description: o.description), t: 0.2, seed: UInt64(i))
            lossNone += DiTSampler.flowLoss(task.model, z, Conditions(script: "", description: ""), t: 0.2, seed: UInt64(i))
        }
        print(String(format: "DiT overfit: flow loss at t = 0.2 with own conditions %.3f, swapped %.3f, none %.3f", lossOwn / 4, lossSwapped / 4, lossNone / 4))
        XCTAssertLessThan(lossOwn, lossSwapped / 2)
        XCTAssertLessThan(lossOwn, lossNone)
    }
}
