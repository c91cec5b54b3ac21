import Foundation
import TimbreTensor
import TimbreFormats
import TimbreCheckpoint

/// Sampling settings (docs/design.md §3.3).
public struct SamplerOptions: Sendable {
    public enum Solver: String, Sendable { case euler, heun }
    public var steps = 32
    public var solver = Solver.euler
    /// Sway coefficient s in `t ← t + s·(cos(πt/2) − 1 + t)` (0 = uniform grid).
    public var sway = -1.0
    /// Guidance weights: text (script + description) and reference.
    public var cfgText = 3.0, cfgRef = 2.0
    /// SDEdit: start from the source latents noised to this t (0 = pure noise).
    public var tStart = 0.0
    public var seed: UInt64 = 0
    public init() {}
}

/// Conditions of one generation, latents normalised.
public struct Conditions: Sendable {
    public var script: String
    public var description: String
    /// Reference latents `[R, D]` (cloning/tuning) or empty.
    public var reference: [Float]
    /// Tuning with SDEdit: the source latents `[T, D]` to start from (nil: pure noise).
    public var source: [Float]?
    public init(script: String, description: String, reference: [Float] = [], source: [Float]? = nil) {
        self.script = script; self.description = description; self.reference = reference; self.source = source
    }
}

/// The flow-matching ODE from noise (t = 0) to data (t = 1), with classifier-free guidance.
public enum DiTSampler {
    /// The time grid: `steps` intervals, sway-warped, mapped onto [tStart, 1].
    public static func timeGrid(steps: Int, sway: Double, tStart: Double = 0) -> [Double] {
        (0...steps).map { i -> Double in
            let u = Double(i) / Double(steps)
            let w = u + sway * (cos(Double.pi * u / 2) - 1 + u)
            return tStart + (1 - tStart) * w
        }
    }

    /// Model passes per velocity: 1 without conditions, 2 with text only, 3 with text and reference.
    public static func passes(_ c: Conditions) -> Int { c.reference.isEmpty ? 2 : 3 }

    /// The model's velocity for one example: latents `x` `[T, D]` at time `t`, token rows (empty:
    /// absent) and reference latents `[R, D]` (empty: absent).
    public static func velocity(_ model: DiT<Float>, _ x: [Float], _ t: Double, script: [Int], description: [Int], reference: [Float]) -> [Float] {
        let D = model.config.latent_dim, T = x.count / D, R = reference.count / D
        let ref = Tensor<Float>(zeros: [1, R, D])
        if R > 0 { ref.data.update(from: reference, count: R * D) }
        let batch = DiTBatch(target: Tensor<Float>(x, shape: [1, T, D]), targetFrames: [T], reference: ref, referenceFrames: [R],
                             script: [script], description: [description], t: [Float(t)])
        return model.forward(batch).array
    }

    /// The flow-matching loss (docs/design.md §3.1) of one example at a fixed `t`: clean normalised latents
    /// `x1` `[T, D]` (T a multiple of the patch), noise drawn from `seed`, conditions as given
    /// (an empty script or description is absent). Comparing it across conditions shows how much
    /// the model relies on each.
    public static func flowLoss(_ model: DiT<Float>, _ x1: [Float], _ c: Conditions, t: Double, seed: UInt64) -> Double {
        var r = RandomStream(seed: seed, 0xF10)
        let x0 = x1.map { _ in Float(r.normal()) }
        let xt = zip(x1, x0).map { Float(t) * $0 + Float(1 - t) * $1 }
        let v = velocity(model, xt, t, script: c.script.isEmpty ? [] : ByteTokens.encode(c.script),
                         description: c.description.isEmpty ? [] : ByteTokens.encode(c.description), reference: c.reference)
        var e = 0.0
        for i in v.indices { let d = Double(v[i] - (x1[i] - x0[i])); e += d * d }
        return e / Double(max(1, v.count))
    }

    /// Generates `frames` latent frames (normalised, `[frames, D]`); `frames` is rounded down to
    /// a multiple of the patch.
    public static func sample(_ model: DiT<Float>, _ c: Conditions, frames: Int, options o: SamplerOptions,
                              progress: ((Int, Int) -> Void)? = nil) -> [Float] {
        let cfg = model.config, p = cfg.p, D = cfg.latent_dim
        let T = max(p, frames / p * p)
        var r = RandomStream(seed: o.seed, 0x5A)
        var x = [Float](repeating: 0, count: T * D)
        for i in x.indices { x[i] = Float(r.normal()) }
        let grid = timeGrid(steps: o.steps, sway: o.sway, tStart: o.tStart)
        if let src = c.source, o.tStart > 0 {
            let t0 = Float(grid[0])
            for i in x.indices { x[i] = t0 * (i < src.count ? src[i] : 0) + (1 - t0) * x[i] }
        }
        let script = ByteTokens.encode(c.script), desc = c.description.isEmpty ? [] : ByteTokens.encode(c.description)
        let n = passes(c)
        // One forward per pass, each without padding: the unconditional pass has no text tokens at
        // all, so batching it with the others would spend most of its work on padding.
        func pass(_ x: [Float], _ t: Double, script: [Int], description: [Int], reference: Bool) -> [Float] {
            Self.velocity(model, x, t, script: script, description: description, reference: reference ? c.reference : [])
        }
        func velocity(_ x: [Float], _ t: Double) -> [Float] {
            let vu = pass(x, t, script: [], description: [], reference: false)
            let vt = pass(x, t, script: script, description: desc, reference: false)
            let vf = n == 3 ? pass(x, t, script: script, description: desc, reference: true) : []
            var out = [Float](repeating: 0, count: T * D)
            for i in 0..<(T * D) {
                var g = vu[i] + Float(o.cfgText) * (vt[i] - vu[i])
                if n == 3 { g += Float(o.cfgRef) * (vf[i] - vt[i]) }
                out[i] = g
            }
            return out
        }
        for k in 0..<o.steps {
            let t0 = grid[k], t1 = grid[k + 1], h = Float(t1 - t0)
            let v0 = velocity(x, t0)
            if o.solver == .heun {
                let xe = zip(x, v0).map { $0 + h * $1 }
                let v1 = velocity(xe, t1)
                for i in x.indices { x[i] += h * 0.5 * (v0[i] + v1[i]) }
            } else {
                for i in x.indices { x[i] += h * v0[i] }
            }
            progress?(k + 1, o.steps)
        }
        return x
    }
}

/// Loading a trained MM-DiT.
public enum DiTInference {
    /// The model from a checkpoint (EMA weights when present, docs/design.md §3.6).
    public static func load(_ ck: String) throws -> (model: DiT<Float>, path: String) {
        let (path, config, weights, _) = try Checkpoints.forInference(ck, modelType: "dit", model: DiTConfig.self)
        let model = DiT<Float>(config)
        try Checkpoints.loadTensors(weights, into: model.store.values, store: model.store)
        model.inferenceMode()
        return (model, path)
    }
}
