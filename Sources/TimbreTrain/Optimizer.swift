import TimbreFormats
import TimbreTensor

/// AdamW hyperparameters (PyTorch semantics: decoupled weight decay, bias-corrected moments).
public struct AdamWConfig: Codable, Sendable {
    public var lr: Double
    public var betas: [Double]?
    public var eps: Double?
    public var weight_decay: Double?
    /// Parameter kinds exempt from weight decay (default: bias, norm, embedding, snake, gain).
    public var no_decay: [String]?

    public var beta1: Double { betas?[0] ?? 0.9 }
    public var beta2: Double { betas?[1] ?? 0.999 }
    public var epsilon: Double { eps ?? 1e-8 }
    public var weightDecay: Double { weight_decay ?? 0.01 }
    public var noDecayKinds: Set<ParamKind> {
        Set((no_decay ?? ["bias", "norm", "embedding", "snake", "gain"]).compactMap(ParamKind.init(rawValue:)))
    }

    public init(lr: Double, betas: [Double]? = nil, eps: Double? = nil, weight_decay: Double? = nil, no_decay: [String]? = nil) {
        self.lr = lr; self.betas = betas; self.eps = eps; self.weight_decay = weight_decay; self.no_decay = no_decay
    }

    public func validate(file: String) throws {
        func bad(_ p: String, _ r: String) -> FormatError { .invalidValue(file: file, path: "training.optimizer.\(p)", reason: r) }
        if !(lr > 0 && lr.isFinite) { throw bad("lr", "must be a finite number > 0, got \(lr)") }
        if let b = betas, b.count != 2 || !b.allSatisfy({ $0 >= 0 && $0 < 1 }) { throw bad("betas", "must be two values in [0, 1), got \(b)") }
        if let e = eps, !(e > 0 && e.isFinite) { throw bad("eps", "must be a finite number > 0, got \(e)") }
        if let w = weight_decay, !(w >= 0 && w.isFinite) { throw bad("weight_decay", "must be a finite number ≥ 0, got \(w)") }
        for k in no_decay ?? [] where ParamKind(rawValue: k) == nil {
            throw bad("no_decay", "unknown parameter kind '\(k)' (kinds: weight, bias, norm, embedding, snake, gain)")
        }
    }
}

/// AdamW over a store's flat buffers:
///
///     θ ← θ·(1 − lr·wd)            (parameters whose kind decays)
///     m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²
///     θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
///
/// exactly PyTorch's `torch.optim.AdamW` update. The moments `m`, `v` are flat buffers parallel to
/// the parameters; the update is one parallel loop over contiguous ranges of equal decay.
/// Buffers and parameters `frozen` names are left out of every range: never updated or decayed.
public final class AdamW {
    public let config: AdamWConfig
    public let store: ParameterStore<Float>
    public let m: Tensor<Float>, v: Tensor<Float>
    /// Updates applied so far (t in the bias corrections).
    public var t = 0
    /// Contiguous ranges of the flat buffer with their weight-decay flag.
    let ranges: [(Range<Int>, Bool)]

    public init(_ store: ParameterStore<Float>, _ config: AdamWConfig, frozen: (String) -> Bool = { _ in false }) {
        precondition(store.isFinalized, "AdamW: finalize the parameter store first")
        self.store = store; self.config = config
        m = Tensor(zeros: [store.count]); v = Tensor(zeros: [store.count])
        let exempt = config.noDecayKinds
        var rs: [(Range<Int>, Bool)] = []
        for p in store.params where p.kind != .buffer && !frozen(p.name) {
            let decay = !exempt.contains(p.kind)
            let r = p.offset..<(p.offset + p.count)
            if let last = rs.last, last.1 == decay, last.0.upperBound == r.lowerBound {
                rs[rs.count - 1].0 = last.0.lowerBound..<r.upperBound
            } else { rs.append((r, decay)) }
        }
        ranges = rs
    }

    public func update(lr: Double) {
        t += 1
        let b1 = Float(config.beta1), b2 = Float(config.beta2), eps = Float(config.epsilon)
        let bc1 = 1 - Double.exp(Double(t) * Double.log(config.beta1))
        let bc2 = 1 - Double.exp(Double(t) * Double.log(config.beta2))
        let stepSize = Float(lr / bc1), invSqrtBc2 = Float(1 / bc2.squareRoot())
        let ps = (store.values.data, store.grads.data, m.data, v.data)
        for (range, decay) in ranges {
            let shrink = decay ? Float(1 - lr * config.weightDecay) : 1
            Parallel.range(range.count, grain: 1 << 15) { r in
                let (th, g, m, v) = ps
                let o = range.lowerBound
                for i in (o + r.lowerBound)..<(o + r.upperBound) {
                    let gi = g[i]
                    let mi = b1 * m[i] + (1 - b1) * gi
                    let vi = b2 * v[i] + (1 - b2) * gi * gi
                    m[i] = mi; v[i] = vi
                    th[i] = th[i] * shrink - stepSize * mi / (vi.squareRoot() * invSqrtBc2 + eps)
                }
            }
        }
    }
}

/// Scales all gradients so their global L2 norm is at most `maxNorm`; returns the norm before.
@discardableResult
public func clipGradients(_ store: ParameterStore<Float>, maxNorm: Double?) -> Double {
    let norm = Kernels.sumSquares(store.grads.count, store.grads.data).squareRoot()
    if let maxNorm, norm > maxNorm, norm.isFinite {
        Kernels.scale(store.grads.count, Float(maxNorm / (norm + 1e-6)), store.grads.data)
    }
    return norm
}

/// EMA of the weights: `ema ← d·ema + (1 − d)·θ` with `d = min(decay, (1 + t)/(10 + t))` when
/// `warmup` is set (the usual warm-up, so early averages are not dominated by the random init).
public struct EMAConfig: Codable, Sendable {
    public var decay: Double
    public var warmup: Bool?
    public init(decay: Double, warmup: Bool? = nil) { self.decay = decay; self.warmup = warmup }
}

public final class EMA {
    public let config: EMAConfig
    public let values: Tensor<Float>
    public init(_ store: ParameterStore<Float>, _ config: EMAConfig) {
        self.config = config
        values = store.values.clone()
    }
    public func decay(at t: Int) -> Double {
        config.warmup ?? true ? min(config.decay, Double(1 + t) / Double(10 + t)) : config.decay
    }
    /// Call after the t-th update (t ≥ 1). The `frozen` ranges are copied, not blended: blending a
    /// constant with itself drifts by rounding, and a frozen encoder's EMA must stay the encoder.
    public func update(_ store: ParameterStore<Float>, t: Int, frozen: [Range<Int>] = []) {
        let d = Float(decay(at: t))
        Parallel.range(values.count, grain: 1 << 16) { r in
            let (e, th) = (values.data, store.values.data)
            for i in r { e[i] = d * e[i] + (1 - d) * th[i] }
        }
        for r in frozen { (values.data + r.lowerBound).update(from: store.values.data + r.lowerBound, count: r.count) }
    }
}
