import TimbreCheckpoint
import TimbreLayers
import TimbreTensor
import TimbreTrain

/// The smallest complete `TrainingTask`: an MLP regressing a fixed random function on synthetic
/// data. It exercises the whole training path (recipes, AdamW, schedule, EMA, checkpoints, exact
/// resume) in seconds, so the trainer's tests and `timbre train mlp` use it.
///
/// Model: `fc1 (in→hidden) → SiLU → fc2 (hidden→hidden) → norm (RMSNorm) → SiLU → out (hidden→out)`.
/// Data for micro-batch (step, micro): x ~ N(0, 1) `[b, in]` from a stream keyed by
/// (seed, step, micro); target `y = tanh(x·W*)` with W* fixed by the seed. Loss: mean squared error.
public struct ToyConfig: TrainableModel {
    public var inputs: Int
    public var hidden: Int
    public var outputs: Int
    public init(inputs: Int, hidden: Int, outputs: Int) { self.inputs = inputs; self.hidden = hidden; self.outputs = outputs }

    public func validate() -> [String] {
        [ModelLimits.check(inputs, "inputs", 1...65536), ModelLimits.check(hidden, "hidden", 1...65536),
         ModelLimits.check(outputs, "outputs", 1...65536)].compactMap { $0 }
    }
    public var parameterEstimate: Double {
        let i = Double(inputs), h = Double(hidden), o = Double(outputs)
        return i * h + h + h * h + h + h + h * o + o
    }
}

public final class ToyRegression: TrainingTask {
    public let store = ParameterStore<Float>()
    public let modelType = "mlp"
    public let config: ToyConfig
    public let batchSize: Int
    public var examplesPerStep: Int { batchSize }
    public var dataCursor: [String: Int] = [:]
    let seed: UInt64
    let fc1: Linear<Float>, fc2: Linear<Float>, out: Linear<Float>
    let act1 = SiLU<Float>(), act2 = SiLU<Float>()
    let norm: RMSNorm<Float>
    let wTrue: Tensor<Float>
    /// Set to make a step's loss NaN (tests of the non-finite guard).
    public var poisonSteps: Set<Int> = []
    /// Steps whose gradients are scaled by 1e30: every element finite, their squares not.
    public var hugeGradientSteps: Set<Int> = []
    /// Micro-batches, numbered (step − 1) · microBatches + micro over the run, whose gradients are NaN
    /// (tests of the guard across ranks, where one rank alone meets the NaN).
    public var nanGradientMicroBatches: Set<Int> = []

    public init(config: ToyConfig, batchSize: Int, seed: UInt64) {
        self.config = config; self.batchSize = batchSize; self.seed = seed
        fc1 = Linear(store.root.child("fc1"), config.inputs, config.hidden)
        fc2 = Linear(store.root.child("fc2"), config.hidden, config.hidden)
        norm = RMSNorm(store.root.child("norm"), config.hidden, weight: true)
        out = Linear(store.root.child("out"), config.hidden, config.outputs)
        store.finalize(seed: seed)
        wTrue = Tensor(zeros: [config.inputs, config.outputs])
        var r = RandomStream(seed: seed, 0x7A46)
        r.fillNormal(wTrue, std: 1 / Double(config.inputs).squareRoot() * 2)
    }

    /// The micro-batch of (step, micro): inputs `[b, in]` and targets `[b, out]`.
    public func batch(step: Int, micro: Int, of microBatches: Int) -> (x: Tensor<Float>, y: Tensor<Float>) {
        let b = batchSize / microBatches
        let x = Tensor<Float>(zeros: [b, config.inputs])
        var r = RandomStream(seed: seed, UInt64(step), UInt64(micro), 0xDA7A)
        r.fillNormal(x)
        let y = Matmul.product(x, wTrue)
        for i in 0..<y.count { y[i] = Float.tanh(y[i]) }
        return (x, y)
    }

    public func run(step: Int, micro: Int, of microBatches: Int) throws -> [String: Double] {
        let (x, y) = batch(step: step, micro: micro, of: microBatches)
        let pred = out.forward(act2.forward(norm.forward(fc2.forward(act1.forward(fc1.forward(x))))))
        let n = Double(pred.count)
        var loss = 0.0
        let dy = Tensor<Float>(zeros: pred.shape)
        for i in 0..<pred.count {
            let e = Double(pred[i] - y[i])
            loss += e * e / n
            dy[i] = Float(2 * e / n)
        }
        if poisonSteps.contains(step) { loss = .nan }
        if hugeGradientSteps.contains(step) { for i in 0..<dy.count { dy[i] *= 1e30 } }
        if nanGradientMicroBatches.contains((step - 1) * microBatches + micro) { dy[0] = .nan }
        _ = fc1.backward(act1.backward(fc2.backward(norm.backward(act2.backward(out.backward(dy))))))
        return ["loss": loss]
    }
}
