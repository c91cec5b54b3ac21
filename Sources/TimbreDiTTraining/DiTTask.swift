import Foundation
import TimbreAudio
import TimbreData
import TimbreDiT
import TimbreTensor
import TimbreTrain

/// Latent clips of a corpus split, normalised with the shards' statistics.
public final class LatentCorpus: @unchecked Sendable {
    public let dim: Int, hop: Int
    public let mean: [Float], std: [Float]
    public let vaeCheckpoint: String
    public let metas: [ClipMeta]
    /// Normalised latents `[frames, D]` per clip.
    public let clips: [[Float]]

    public init(dir: String, split: String, maxClips: Int? = nil) throws {
        let files = (try FileManager.default.contentsOfDirectory(atPath: dir)).filter { $0.hasSuffix(".latent.h5") && $0.hasPrefix(split + "-") }.sorted()
        guard !files.isEmpty else { throw DataError.invalid(dir, "no \(split)-*.latent.h5 shards (make them with `timbre vae encode`)") }
        var metas: [ClipMeta] = [], clips: [[Float]] = []
        var info: LatentShardInfo?, dim = 0
        for f in files {
            let s = try LatentShard("\(dir)/\(f)")
            if let i = info, i != s.info { throw DataError.invalid("\(dir)/\(f)", "its VAE or statistics differ from \(files[0])'s") }
            info = s.info; dim = s.dim
            for i in 0..<s.count {
                var z = Array(s.clip(i))
                for k in z.indices { z[k] = (z[k] - s.info.mean[k % dim]) / s.info.std[k % dim] }
                clips.append(z); metas.append(s.metas[i])
                if let m = maxClips, clips.count >= m { break }
            }
            if let m = maxClips, clips.count >= m { break }
        }
        self.dim = dim; hop = info!.hop; mean = info!.mean; std = info!.std; vaeCheckpoint = info!.vaeCheckpoint
        self.metas = metas; self.clips = clips
    }

    public func frames(_ i: Int) -> Int { clips[i].count / dim }
}

/// Flow-matching training of the MM-DiT (docs/design.md §3.1–3.2) on latent shards.
public final class DiTTask: TrainingTask {
    public let store = ParameterStore<Float>()
    public let model: DiT<Float>
    public let modelType = "dit"
    public var examplesPerStep: Int
    public var dataCursor: [String: Int] = [:]
    public let corpus: LatentCorpus
    public let sampler: BucketSampler
    let pairs: PairIndex
    let seed: UInt64, microBatches: Int, microBatch: Int
    let data: DiTDataConfig
    var epochCache: (epoch: Int, batches: [[Int]])?

    public init(config: DiTConfig, data: DiTDataConfig, latents dir: String, batchSize: Int, microBatches: Int, seed: UInt64) throws {
        corpus = try LatentCorpus(dir: dir, split: data.trainingSplit, maxClips: data.max_clips)
        guard corpus.dim == config.latent_dim else {
            throw DataError.invalid(dir, "latents have \(corpus.dim) channels; the recipe's model.latent_dim is \(config.latent_dim)")
        }
        model = DiT(config, store: store, seed: seed)
        self.data = data; self.seed = seed; self.microBatches = microBatches; microBatch = batchSize / microBatches
        examplesPerStep = batchSize
        let maxFrames = Int(data.maxSeconds * Double(Audio.modelRate) / Double(corpus.hop))
        let p = config.p
        let c = corpus
        sampler = BucketSampler(lengths: c.clips.indices.map { c.frames($0) / p * p }, batchSize: batchSize / microBatches,
                                maxLength: maxFrames, seed: seed)
        guard !sampler.eligible.isEmpty else { throw DataError.invalid(dir, "no clip is at most \(data.maxSeconds) s long") }
        pairs = PairIndex(corpus.metas)
    }

    /// The task a recipe describes, on the latent shards in `dir`: the one constructor that
    /// `train dit` and `dump-step` share. The step's `batch_size` examples are split over
    /// `jobMicroBatches` (every rank's micro-batches together); `examplesPerStep` replaces the
    /// batch size (a dumped step replays one micro-batch).
    public convenience init(recipe: Recipe<DiTConfig>, latents dir: String, seed: UInt64, jobMicroBatches: Int, examplesPerStep: Int? = nil) throws {
        try self.init(config: recipe.model, data: recipe.data ?? DiTDataConfig(), latents: dir,
                      batchSize: examplesPerStep ?? recipe.training.batch_size, microBatches: jobMicroBatches, seed: seed)
    }

    /// Fresh start: the latent statistics go into the model's buffers.
    public func initialiseFresh() throws -> String? {
        for c in 0..<corpus.dim { model.latentMean.value[c] = corpus.mean[c]; model.latentStd.value[c] = corpus.std[c] }
        let bytes = corpus.metas.reduce(0) { $0 + $1.text.utf8.count }
        let seconds = corpus.clips.indices.reduce(0.0) { $0 + Double(corpus.frames($1) * corpus.hop) / Double(Audio.modelRate) }
        if seconds > 0 && bytes > 0 { model.corpusRate.value[0] = Float(Double(bytes) / seconds) }
        return String(format: "%.1f script bytes/s; ", model.corpusRate.value[0]) + "\(sampler.eligible.count) clips (\(sampler.skippedTooLong) longer than \(data.maxSeconds) s skipped), latent statistics from the shards"
    }

    func batchIndices(_ k: Int) -> [Int] {
        let perEpoch = max(1, sampler.eligible.count / microBatch)
        let e = k / perEpoch
        if epochCache?.epoch != e { epochCache = (e, sampler.batches(epoch: e)) }
        let list = epochCache!.batches
        return list[(k % perEpoch) % list.count]
    }

    /// The batch of micro-batch k with its flow-matching draws: noisy input, velocity target and
    /// valid-frame mask.
    public func makeBatch(_ k: Int, step: Int, micro: Int) -> (batch: DiTBatch, velocity: Tensor<Float>) {
        let idx = batchIndices(k)
        var r = RandomStream(seed: seed, UInt64(step), UInt64(micro), 0xD17)
        let p = model.config.p, D = corpus.dim
        let frames = idx.map { corpus.frames($0) / p * p }
        let T = frames.max() ?? 0
        let refCap = Int(data.referenceSeconds * Double(Audio.modelRate) / Double(corpus.hop)) / p * p
        var refs: [[Float]] = [], scripts: [[Int]] = [], descs: [[Int]] = [], ts: [Float] = []
        for i in idx {
            let m = corpus.metas[i]
            let dropAll = r.uniformDouble() < data.pDropAll
            var ref: [Float] = []
            if !dropAll, r.uniformDouble() < data.pReference, let (j, _) = pairs.reference(for: i, preferTuning: r.uniformDouble() < 0.5, &r) {
                let f = corpus.frames(j) / p * p
                let n = min(f, refCap)
                let start = f > n ? r.int(below: (f - n) / p + 1) * p : 0
                ref = Array(corpus.clips[j][(start * D)..<((start + n) * D)])
            }
            refs.append(ref)
            scripts.append(dropAll || r.uniformDouble() < data.pDropScript ? [] : ByteTokens.encode(m.text))
            descs.append(dropAll || r.uniformDouble() < data.pDropDescription ? [] : ByteTokens.encode(m.description))
            ts.append(Float(1 / (1 + Foundation.exp(-r.normal()))))
        }
        let R = refs.map { $0.count / D }.max() ?? 0
        let B = idx.count
        let target = Tensor<Float>(zeros: [B, T, D]), v = Tensor<Float>(zeros: [B, T, D]), reference = Tensor<Float>(zeros: [B, R, D])
        for (b, i) in idx.enumerated() {
            let t = ts[b]
            for k in 0..<(frames[b] * D) {
                let x1 = corpus.clips[i][k], x0 = Float(r.normal())
                target[b * T * D + k] = t * x1 + (1 - t) * x0
                v[b * T * D + k] = x1 - x0
            }
            for k in refs[b].indices { reference[b * R * D + k] = refs[b][k] }
        }
        let batch = DiTBatch(target: target, targetFrames: frames, reference: reference, referenceFrames: refs.map { $0.count / D },
                             script: ByteTokens.pad(scripts), description: ByteTokens.pad(descs), t: ts)
        return (batch, v)
    }

    public func dataCursor(after microBatches: Int) -> [String: Int] { ["microbatch": microBatches] }

    public func run(step: Int, micro: Int, of microBatches: Int) throws -> [String: Double] {
        let k = (step - 1) * microBatches + micro
        dataCursor = ["microbatch": k + 1]
        let (batch, v) = makeBatch(k, step: step, micro: micro)
        let out = model.forward(batch)
        let (B, T, D) = (v.shape[0], v.shape[1], v.shape[2])
        let count = batch.targetFrames.reduce(0, +) * D
        let dv = Tensor<Float>(zeros: v.shape)
        var loss = 0.0
        for b in 0..<B {
            for k in 0..<(batch.targetFrames[b] * D) {
                let e = out[b * T * D + k] - v[b * T * D + k]
                loss += Double(e * e)
                dv[b * T * D + k] = 2 * e / Float(count)
            }
        }
        model.backward(dv, batch: batch)
        return ["loss": loss / Double(count), "mse": loss / Double(count)]
    }
}
