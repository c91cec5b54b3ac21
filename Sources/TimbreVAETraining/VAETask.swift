import Foundation
import TimbreAudio
import TimbreData
import TimbreFormats
import TimbreLosses
import TimbreTensor
import TimbreTrain
import TimbreMetrics
import TimbreVAE
import TimbreCheckpoint

/// Loss weights of a VAE recipe (`losses` section): `mrstft` (default 1), `kl` (default 1e-4, as
/// stable-audio-tools), `l1` waveform L1 (default 0), `mel` DAC mel L1 (default 0), and with an
/// `adversarial` section `adversarial` (default 0.1) and `feature_matching` (default 5.0).
/// `mrstft_long` (default 0) is the same MR-STFT at FFT sizes 8192 and 4096 only: windows long
/// enough to resolve the harmonics of voices down to about 50 Hz (docs/pitch.md).
public struct VAELossWeights: Sendable {
    public var mrstft = 1.0, mrstftLong = 0.0, kl = 1e-4, l1 = 0.0, mel = 0.0, adversarial = 0.1, featureMatching = 5.0
    public static let names = ["mrstft", "mrstft_long", "kl", "l1", "mel", "adversarial", "feature_matching"]
    public init(_ d: [String: Double]?, file: String) throws {
        for (k, v) in d ?? [:] {
            switch k {
            case "mrstft": mrstft = v
            case "mrstft_long": mrstftLong = v
            case "kl": kl = v
            case "l1": l1 = v
            case "mel": mel = v
            case "adversarial": adversarial = v
            case "feature_matching": featureMatching = v
            default:
                throw FormatError.invalidValue(file: file, path: "losses.\(k)", reason: "unknown loss (VAE losses: \(Self.names.joined(separator: ", ")))")
            }
        }
    }
}

/// Training the VAE on random crops of a corpus (docs/design.md §2, §7): per micro-batch, a batch of crops
/// (a pure function of the step), reparameterisation noise from (seed, step, micro), loss
/// `w_mrstft·MRSTFT(x̂, x) + w_kl·KL + w_l1·|x̂ − x|₁ + w_mel·mel`, and with an adversary (from
/// its start step) `+ w_adv·adversarial + w_fm·feature matching` while the discriminator trains
/// on the same crops and reconstructions (`VAEAdversary`).
public final class VAETask: TrainingTask {
    public let store = ParameterStore<Float>()
    public let modelType = "vae"
    public let vae: VAE<Float>
    public let weights: VAELossWeights
    public let loader: CropLoader
    public let heldOut: CorpusSplit?
    /// YIN tracks of the held-out originals, computed at the first evaluation.
    var heldOutF0: [Int: [Double]] = [:]
    public var examplesPerStep: Int
    public var dataCursor: [String: Int] = [:]
    let seed: UInt64
    let loss = MRSTFTLoss<Float>()
    let longLoss = MRSTFTLoss<Float>(ffts: [8192, 4096])
    let melLoss = MelLoss<Float>(sampleRate: Audio.modelRate)
    let microBatches: Int
    let evalClips: Int
    /// The discriminator, when the recipe has an `adversarial` section.
    public let adversary: VAEAdversary?

    public init(config: VAEConfig, weights: VAELossWeights, corpus: String, split: String, cropSamples: Int, batchSize: Int,
                microBatches: Int, seed: UInt64, evalClips: Int, maxClips: Int? = nil, adversary: VAEAdversary? = nil) throws {
        vae = VAE(config, store: store, seed: seed)
        self.adversary = adversary
        self.weights = weights; self.seed = seed; self.microBatches = microBatches; self.evalClips = evalClips
        examplesPerStep = batchSize
        loader = try CropLoader(split: try CorpusSplit(dir: corpus, split: split, maxClips: maxClips), batchSize: batchSize / microBatches,
                                length: cropSamples, hop: config.hop, seed: seed)
        heldOut = evalClips > 0 ? try? CorpusSplit(dir: corpus, split: "test") : nil
    }

    /// The task a VAE recipe describes, on the corpus folder `corpus`: the one place that reads a
    /// recipe's `data`, `losses` and `adversarial` sections for training (`timbre train vae` and
    /// `dump-step` alike). `jobMicroBatches` is a step's micro-batches over the whole job (every
    /// rank's); `examplesPerStep` and `evalClips` default to the recipe's.
    public convenience init(recipe: Recipe<VAEConfig>, file: String, corpus: String, seed: UInt64, jobMicroBatches: Int,
                            examplesPerStep: Int? = nil, evalClips: Int? = nil) throws {
        let hop = recipe.model.hop, data = recipe.data ?? VAEDataConfig()
        let crop = data.cropSamples(hop: hop)
        guard crop % hop == 0 else {
            throw FormatError.invalidValue(file: file, path: "data.crop_samples", reason: "\(crop) is not a multiple of the hop \(hop)")
        }
        let batchSize = examplesPerStep ?? recipe.training.batch_size
        // Activations: ≈ 1 KiB per input sample and channel of the first block, per micro-batch
        // (vae-small-pitch's training held 4.6 GB resident at 4 × 32,768 samples × 32 channels).
        let micro = batchSize / jobMicroBatches
        let activations = Double(micro) * Double(crop) * Double(recipe.model.channels) * 1024
        try ModelLimits.requireMemory(recipe.model.parameterEstimate * ModelLimits.trainingBytesPerParameter + activations,
                                      for: "a training step of \(micro) × crop_samples \(crop) per micro-batch", file: file)
        if recipe.adversarial == nil, let k = recipe.losses?.keys.sorted().first(where: { $0 == "adversarial" || $0 == "feature_matching" }) {
            throw FormatError.invalidValue(file: file, path: "losses.\(k)",
                                           reason: "is set but the recipe has no 'adversarial' section, so no discriminator would run")
        }
        try self.init(config: recipe.model, weights: try VAELossWeights(recipe.losses, file: file), corpus: corpus,
                      split: data.trainingSplit, cropSamples: crop, batchSize: batchSize, microBatches: jobMicroBatches,
                      seed: seed, evalClips: evalClips ?? data.evalClips, maxClips: data.max_clips,
                      adversary: recipe.adversarial.map { VAEAdversary($0, generatorOptimizer: recipe.training.optimizer, seed: seed) })
    }

    /// Fresh starts only: latent means scaled to unit std over the first training batch
    /// (`VAE.initialiseLatentScale`). Returns a line for the log.
    public func initialiseFresh() throws -> String? {
        let before = vae.initialiseLatentScale(try loader.make(batch: 0))
        let avg = before.reduce(0, +) / Double(before.count)
        return String(format: "latent means rescaled to unit std over the first batch (they varied by %.4f on average)", avg)
    }

    /// A frozen encoder (every `encoder.` parameter frozen) is run forward only.
    public func freeze(_ isFrozen: (String) -> Bool) {
        vae.trainsEncoder = store.params.contains { $0.name.hasPrefix("encoder.") && !isFrozen($0.name) }
    }

    public func run(step: Int, micro: Int, of microBatches: Int) throws -> [String: Double] {
        let b = (step - 1) * microBatches + micro
        let x = try loader.batch(b)
        dataCursor = loader.cursor(batch: b + 1)
        let F = x.shape[2] / vae.hop
        let eps = Tensor<Float>(zeros: [x.shape[0], vae.config.latent_dim, F])
        var r = RandomStream(seed: seed, UInt64(step), UInt64(micro), 0xE95)
        r.fillNormal(eps)
        let source = try pitchSource(x, step: step, micro: micro)
        let (recon, kl) = vae.forward(x, eps: eps, source: source)
        let mr = loss.forward(recon, x)
        var l1 = 0.0
        let d = loss.backward(scale: weights.mrstft)
        if weights.l1 != 0 {
            let n = Double(x.count)
            for i in 0..<x.count {
                let e = recon[i] - x[i]
                l1 += Double(abs(e)) / n
                d[i] += Float(weights.l1 / n) * (e > 0 ? 1 : e < 0 ? -1 : 0)
            }
        }
        var mel = 0.0
        if weights.mel != 0 {
            mel = melLoss.forward(recon, x)
            Kernels.axpy(d.count, 1, melLoss.backward(scale: weights.mel).data, d.data)
        }
        var long = 0.0
        if weights.mrstftLong != 0 {
            long = longLoss.forward(recon, x).loss
            Kernels.axpy(d.count, 1, longLoss.backward(scale: weights.mrstftLong).data, d.data)
        }
        var terms = ["mrstft": mr.loss, "kl": kl, "l1": l1, "mel": mel]
        if weights.mrstftLong != 0 { terms["mrstft_long"] = long }
        var total = weights.mrstft * mr.loss + weights.mrstftLong * long + weights.kl * kl + weights.l1 * l1 + weights.mel * mel
        if let adversary, adversary.active(step: step) {
            let a = adversary.run(step: step, micro: micro, real: x, fake: recon, weights: weights)
            Kernels.axpy(d.count, 1, a.dFake.data, d.data)
            total += weights.adversarial * a.adversarial + weights.featureMatching * a.featureMatching
            terms["discriminator"] = a.discriminator; terms["adversarial"] = a.adversarial; terms["feature_matching"] = a.featureMatching
        }
        vae.backward(d, klWeight: weights.kl)
        terms["loss"] = total
        return terms
    }

    /// A pitch VAE's inputs of the last micro-batch: its pitch channels `[B, 2r, F]` and the
    /// source `[B, 1, T]` rendered from them (kept for `dump-step`).
    public private(set) var lastPitch: Tensor<Float>?, lastSource: Tensor<Float>?

    /// The source of a pitch VAE for crops `x`: their pitch channels (YIN on each crop) rendered
    /// with noise from (seed, step, micro, example); nil without pitch.
    func pitchSource(_ x: Tensor<Float>, step: Int, micro: Int) throws -> Tensor<Float>? {
        guard let pitch = vae.config.pitch else { return nil }
        let ch = try PitchChannels.compute(batch: x, hop: vae.hop, perFrame: pitch.perFrame)
        let source: Tensor<Float> = PitchSource.render(batch: ch, hop: vae.hop, config: pitch) { b in
            RandomStream(seed: self.seed, UInt64(step), UInt64(micro), Self.sourceNoisePurpose, UInt64(b))
        }
        lastPitch = ch; lastSource = source
        return source
    }

    static let sourceNoisePurpose: UInt64 = 0x50C

    public func dataCursor(after microBatches: Int) -> [String: Int] { loader.cursor(batch: microBatches) }
    public var auxiliaryStore: ParameterStore<Float>? { adversary?.model.store }
    public func auxiliaryNonFinite(step: Int) -> String? { adversary?.nonFinite(step: step) }
    public func updateAuxiliary(step: Int, lrFactor: Double) { adversary?.update(step: step, microBatches: microBatches, lrFactor: lrFactor) }
    public func saveAuxiliary(into dir: String) throws -> [String: String] { try adversary?.save(into: dir) ?? [:] }
    public func restoreAuxiliary(from path: String, state: CheckpointState) throws -> String? { try adversary?.restore(from: path, state: state) }

    /// Held-out reconstruction (z = mean) of the first `evalClips` test clips, up to 5 s each:
    /// the mean of each reconstruction metric of docs/design.md §6 (SI-SDR, mel, STFT and MR-STFT
    /// distances, STOI, ESTOI), of the pitch agreement (`voiced_recall`, `f0_rmse` over the clips
    /// that define it), and `clips`.
    public func evaluate() throws -> [String: Double] {
        guard let heldOut else { return [:] }
        var sums: [String: Double] = [:], counts: [String: Int] = [:]
        let hop = vae.hop
        for i in 0..<min(evalClips, heldOut.count) {
            let len = min(heldOut.length(i), 5 * Audio.modelRate) / hop * hop
            guard len >= 4 * hop else { continue }
            let x = Tensor<Float>(zeros: [1, 1, len])
            try heldOut.read(i, from: 0, count: len, into: x.data)
            let xa = x.array
            let ya = try VAEInference.reconstruct(vae, xa)
            let f0 = try heldOutF0[i] ?? ClipProsody.f0Track(xa, rate: Audio.modelRate)
            heldOutF0[i] = f0
            let m = try Reconstruction.measure(reference: xa, estimate: ya, referenceF0: f0, sampleRate: Audio.modelRate)
            for (k, v) in m {
                sums[k, default: 0] += v; counts[k, default: 0] += 1
            }
            counts["clips", default: 0] += 1
        }
        var out = sums.reduce(into: [String: Double]()) { $0[$1.key] = $1.value / Double(counts[$1.key]!) }
        out["clips"] = counts["clips"].map(Double.init)
        return out
    }
}
