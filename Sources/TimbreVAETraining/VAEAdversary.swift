import TimbreDiscriminator
import TimbreDSP
import TimbreFormats
import TimbreTensor
import TimbreTrain
import TimbreVAE
import TimbreCheckpoint

/// The VAE's discriminator in training (a recipe's `adversarial` section, docs/design.md §2): the
/// multi-scale STFT discriminator, its own parameter store and AdamW, saved in every checkpoint as
/// `discriminator.safetensors` and `discriminator-optimizer.safetensors` (never in
/// `model.safetensors`, so exports and releases hold the VAE alone).
public final class VAEAdversary {
    public static let checkpointName = "discriminator"
    public let config: VAEAdversarialConfig
    public let model: MSSTFTDiscriminator<Float>
    public let optimizer: AdamW
    /// The step whose gradients `model.store.grads` holds (0: none).
    var gradientStep = 0

    public init(_ config: VAEAdversarialConfig, generatorOptimizer: AdamWConfig, seed: UInt64) {
        self.config = config
        model = MSSTFTDiscriminator(config.discriminator, seed: seed ^ 0xD15C)
        optimizer = AdamW(model.store, config.optimizer ?? generatorOptimizer)
    }

    /// Whether the stage runs at `step` (1-based).
    public func active(step: Int) -> Bool { step > config.startStep }

    /// One micro-batch: the discriminator's gradients accumulate (the trainer zeroes and sums
    /// them, `TrainingTask.auxiliaryStore`); returns the losses and dL/d(recon) of the VAE's weighted adversarial and
    /// feature-matching losses.
    func run(step: Int, micro: Int, real: Tensor<Float>, fake: Tensor<Float>, weights: VAELossWeights)
        -> (discriminator: Double, adversarial: Double, featureMatching: Double, dFake: Tensor<Float>) {
        gradientStep = step
        return model.trainingStep(real: real, fake: fake, adversarialWeight: weights.adversarial, featureWeight: weights.featureMatching)
    }

    func nonFinite(step: Int) -> String? {
        guard gradientStep == step, let i = Kernels.firstNonFinite(model.store.grads.count, model.store.grads.data) else { return nil }
        return "discriminator gradient of \(model.store.name(atFlatIndex: i)) = \(model.store.grads[i])"
    }

    /// AdamW on the step's accumulated gradients (averaged over `microBatches`), the VAE's schedule
    /// factor applied to the discriminator's learning rate.
    func update(step: Int, microBatches: Int, lrFactor: Double) {
        guard gradientStep == step else { return }
        if microBatches > 1 { Kernels.scale(model.store.grads.count, 1 / Float(microBatches), model.store.grads.data) }
        optimizer.update(lr: optimizer.config.lr * lrFactor)
    }

    func save(into dir: String) throws -> [String: String] {
        try Checkpoints.saveAuxiliary(Self.checkpointName, into: dir, store: model.store, optimizer: optimizer)
    }

    func restore(from path: String, state: CheckpointState) throws -> String {
        try Checkpoints.restoreAuxiliary(Self.checkpointName, from: path, state: state, store: model.store, optimizer: optimizer)
            ? "discriminator restored (\(model.store.count) parameters, \(optimizer.t) updates)"
            : "the checkpoint holds no discriminator: a fresh one (\(model.store.count) parameters)"
    }
}
