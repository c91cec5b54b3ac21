import Foundation
import TimbreTensor
import TimbreFormats
import TimbreTrain

/// Sampling settings (SPEC §3.3).
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
        let R = c.reference.count / D
        let n = passes(c)
        func velocity(_ x: [Float], _ t: Double) -> [Float] {
            // Batch of passes: ∅ (target only), text (script + description), full (+ reference).
            let target = Tensor<Float>(zeros: [n, T, D]), reference = Tensor<Float>(zeros: [n, R, D])
            for b in 0..<n { (target.data + b * T * D).update(from: x, count: T * D) }
            if n == 3 { (reference.data + 2 * R * D).update(from: c.reference, count: R * D) }
            let scripts = ByteTokens.pad([[]] + [[Int]](repeating: script, count: n - 1))
            let descs = ByteTokens.pad([[]] + [[Int]](repeating: desc, count: n - 1))
            let batch = DiTBatch(target: target, targetFrames: [Int](repeating: T, count: n), reference: reference,
                                 referenceFrames: [0, 0, R].prefix(n).map { $0 }, script: scripts, description: descs,
                                 t: [Float](repeating: Float(t), count: n))
            let v = model.forward(batch)
            var out = [Float](repeating: 0, count: T * D)
            for i in 0..<(T * D) {
                let vu = v[i], vt = v[T * D + i]
                var g = vu + Float(o.cfgText) * (vt - vu)
                if n == 3 { g += Float(o.cfgRef) * (v[2 * T * D + i] - vt) }
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
    /// The model from a checkpoint (EMA weights when present, SPEC §3.6).
    public static func load(_ ck: String) throws -> (model: DiT<Float>, path: String) {
        let (path, recipe, weights, _) = try Checkpoints.forInference(ck, modelType: "dit", model: DiTConfig.self)
        let model = DiT<Float>(recipe.model)
        try Checkpoints.loadTensors(weights, into: model.store.values, store: model.store)
        model.inferenceMode()
        return (model, path)
    }
}
