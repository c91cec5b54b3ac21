import Foundation
import TimbreAudio
import TimbreDiT
import TimbreTensor
import TimbreTrain
import TimbreVAE

/// `timbre bench dit` and `timbre bench sample` (dit-small's size by default).
public enum DiTBench {
    public struct Shape: Sendable {
        public var batch = 8, target = 160, reference = 80, script = 120, description = 80
        public init() {}
    }

    public static let benchConfig = DiTConfig(d_audio: 384, d_text: 256, layers: 8, heads: 6, head_dim: 64,
                                              ff_audio: 1024, ff_text: 768, latent_dim: 32, patch: 1)

    /// Every linear product of one forward pass, as the model calls it (`rows × in → out`, rows
    /// over the whole batch): input projection, timestep MLP, description pooling, per layer each
    /// expert's modulation, QKV, output projection and SwiGLU (W1 and W3 as one product; the last
    /// layer's text expert stops after QKV), the output modulation and projection.
    public static func products(_ c: DiTConfig, _ s: Shape) -> [(rows: Int, inF: Int, outF: Int)] {
        let B = s.batch, A = c.attentionWidth, da = c.d_audio, dt = c.d_text, dc = c.dc
        let na = B * ((s.target + s.reference) / c.p), nt = B * (s.script + s.description)
        var l: [(rows: Int, inF: Int, outF: Int)] = [(na, c.p * c.latent_dim, da), (B, 256, dc), (B, dc, dc), (B, dt, dc)]
        for k in 0..<c.layers {
            let last = k == c.layers - 1
            l += [(B, dc, 4 * da), (na, da, 3 * A), (na, A, da), (na, da, 2 * c.ff_audio), (na, c.ff_audio, da)]
            l += [(B, dc, (last ? 1 : 4) * dt), (nt, dt, 3 * A)]
            if !last { l += [(nt, A, dt), (nt, dt, 2 * c.ff_text), (nt, c.ff_text, dt)] }
        }
        return l + [(B, dc, 2 * da), (B * (s.target / c.p), da, c.p * c.latent_dim)]
    }

    /// Forward FLOPs (2 per multiply-add of every matrix product, docs/design.md §1's rule): `products`
    /// and the joint attention's scores and mixing.
    public static func forwardFLOPs(_ c: DiTConfig, _ s: Shape) -> Double {
        let N = Double((s.target + s.reference) / c.p + s.script + s.description)
        let attention = Double(c.layers * s.batch) * 4 * N * N * Double(c.attentionWidth)
        return products(c, s).reduce(attention) { $0 + 2 * Double($1.rows * $1.inF * $1.outF) }
    }

    static func batch(_ c: DiTConfig, _ s: Shape, seed: UInt64) -> DiTBatch {
        var r = RandomStream(seed: seed)
        let target = Tensor<Float>(zeros: [s.batch, s.target * c.p, c.latent_dim]), ref = Tensor<Float>(zeros: [s.batch, s.reference * c.p, c.latent_dim])
        r.fillNormal(target); r.fillNormal(ref)
        let script = (0..<s.batch).map { _ in [DiTConfig.bos] + (0..<(s.script - 2)).map { _ in 97 + r.int(below: 26) } + [DiTConfig.eos] }
        let desc = (0..<s.batch).map { _ in [DiTConfig.bos] + (0..<(s.description - 2)).map { _ in 97 + r.int(below: 26) } + [DiTConfig.eos] }
        return DiTBatch(target: target, targetFrames: [Int](repeating: s.target * c.p, count: s.batch), reference: ref,
                        referenceFrames: [Int](repeating: s.reference * c.p, count: s.batch), script: script, description: desc,
                        t: (0..<s.batch).map { _ in Float(r.uniformDouble()) })
    }

    public struct Result: Sendable {
        public var stepSeconds: Double, flopsPerStep: Double, sgemm: Double, parts: [(String, Double)], parameters: Int
        public var gflops: Double { 3 * flopsPerStep / stepSeconds / 1e9 }
        public var ratio: Double { gflops / sgemm }
    }

    /// Training steps (forward, MSE, backward, AdamW) on random data; best of `steps` after a warm-up.
    public static func train(_ c: DiTConfig, _ s: Shape, steps: Int, sgemm: Double) -> Result {
        let store = ParameterStore<Float>()
        let model = DiT<Float>(c, store: store, seed: 1)
        var r = RandomStream(seed: 2)
        r.fillNormal(store.values, std: 0.02)  // non-zero gates: a step of a trained model, not of the identity
        let opt = AdamW(store, AdamWConfig(lr: 1e-5))
        let b = batch(c, s, seed: 5)
        let v = Tensor<Float>(zeros: b.target.shape)
        r.fillNormal(v)
        var best = Double.infinity, parts: [(String, Double)] = []
        for i in 0...steps {
            store.zeroGrads()
            let t0 = Bench.now()
            let out = model.forward(b)
            let t1 = Bench.now()
            let dv = Tensor<Float>(zeros: v.shape)
            for k in 0..<v.count { dv[k] = 2 * (out[k] - v[k]) / Float(v.count) }
            model.backward(dv, batch: b)
            let t2 = Bench.now()
            opt.update(lr: 1e-5)
            let t3 = Bench.now()
            if i > 0 && t3 - t0 < best {
                best = t3 - t0
                parts = [("forward", t1 - t0), ("loss + backward", t2 - t1), ("AdamW", t3 - t2)]
            }
        }
        return Result(stepSeconds: best, flopsPerStep: forwardFLOPs(c, s), sgemm: sgemm, parts: parts, parameters: store.count)
    }

    /// The matrix products of one inference forward pass of batch 1 (`s.batch` is ignored), each
    /// called as the model calls it — projections and MLPs through `Matmul.timesTransposed`, the
    /// attention of each head single-threaded with the heads spread over the cores — on random
    /// operands, and nothing else. Returns the best of `repeats` timings: what a pass costs if
    /// everything but BLAS took no time.
    public static func matrixProductSeconds(_ c: DiTConfig, _ s: Shape, repeats: Int = 3) -> Double {
        var one = s
        one.batch = 1
        let N = (s.target + s.reference) / c.p + s.script + s.description
        let A = c.attentionWidth, H = c.heads, hd = c.head_dim, w = 3 * A
        let linears = products(c, one)
        var r = RandomStream(seed: 9)
        let big = linears.map { max($0.rows * $0.inF, $0.rows * $0.outF) }.max()!
        // Every product has its own weights, as in the model: a pass streams all of them from memory.
        let offsets = linears.reduce(into: [0]) { $0.append($0.last! + $1.outF * $1.inF) }
        let x = Tensor<Float>(zeros: [big]), wt = Tensor<Float>(zeros: [offsets.last!]), y = Tensor<Float>(zeros: [big])
        let qkv = Tensor<Float>(zeros: [N * w]), o = Tensor<Float>(zeros: [N * A])
        let nw = min(Parallel.workers, H)
        let scratch = (0..<nw).map { _ in Tensor<Float>(zeros: [N * N]) }
        r.fillNormal(x, std: 0.1); r.fillNormal(qkv, std: 0.1)
        for i in 0..<wt.count { wt[i] = 0.01 }  // (values do not change a GEMM's speed)
        let ps = (qkv.data, o.data, scratch.map(\.data))
        // The buffers are reached through raw pointers only: keep them alive until the timing ends.
        return withExtendedLifetime((qkv, o, scratch)) { Bench.time(repeats: repeats, warmup: 1) {
            for (i, l) in linears.enumerated() {
                Matmul.timesTransposed(rows: l.rows, n: l.outF, k: l.inF, a: x.data, b: wt.data + offsets[i], c: y.data)
            }
            for _ in 0..<c.layers {
                BLAS.singleThreaded {
                    Parallel.items(H, workers: nw) { h, wk in
                        let (x, o, P) = ps
                        let q = x + h * hd, k = q + A, v = k + A
                        Float.gemm(transA: false, transB: true, m: N, n: N, k: hd, alpha: 1, a: q, lda: w, b: k, ldb: w, beta: 0, c: P[wk], ldc: N)
                        Float.gemm(transA: false, transB: false, m: N, n: hd, k: N, alpha: 1, a: P[wk], lda: N, b: v, ldb: w,
                                   beta: 0, c: o + h * hd, ldc: A)
                    }
                }
            }
        } }
    }

    public struct SampleResult: Sendable {
        public var seconds: Double, audioSeconds: Double, passes: Int, steps: Int, decodeSeconds: Double
        /// Matrix FLOPs of all the MM-DiT passes (docs/design.md §1's rule).
        public var samplingFLOPs: Double
        /// The same passes' matrix products alone (`matrixProductSeconds`), for all steps.
        public var matrixProductSeconds: Double
        /// The real-time factor if sampling took only its matrix products' time.
        public var matrixProductRTF: Double { (matrixProductSeconds + decodeSeconds) / audioSeconds }
        public var rtf: Double { seconds / audioSeconds }
        public var samplingGFLOPs: Double { samplingFLOPs / (seconds - decodeSeconds) / 1e9 }
    }

    /// Generating `audioSeconds` of audio: `steps` Euler steps with 2 (design) or 3 (cloning)
    /// passes per step, then the VAE decode (vae-small's configuration, random weights).
    public static func sample(_ c: DiTConfig, vae vc: VAEConfig, audioSeconds: Double, steps: Int, scriptBytes: Int, descriptionBytes: Int,
                              referenceSeconds: Double?) -> SampleResult {
        let model = DiT<Float>(c, seed: 1)
        var r = RandomStream(seed: 2)
        r.fillNormal(model.store.values, std: 0.02)
        model.inferenceMode()
        let vae = VAE<Float>(vc, seed: 1)
        vae.inferenceMode()
        let frames = Int(audioSeconds * Double(Audio.modelRate) / Double(vc.hop))
        var ref: [Float] = []
        if let rs = referenceSeconds { ref = (0..<(Int(rs * Double(Audio.modelRate) / Double(vc.hop)) * c.latent_dim)).map { _ in Float(r.normal()) } }
        let cond = Conditions(script: String(repeating: "a", count: scriptBytes), description: String(repeating: "b", count: descriptionBytes), reference: ref)
        var o = SamplerOptions()
        o.steps = steps
        let t0 = Bench.now()
        let z = DiTSampler.sample(model, cond, frames: frames, options: o)
        let t1 = Bench.now()
        let F = z.count / c.latent_dim
        _ = VAEInference.decode(vae, z, frames: F)
        let t2 = Bench.now()
        // FLOPs of one step's passes: unconditional (target only), text, and with the reference.
        var text = Shape()
        text.batch = 1; text.target = F / c.p; text.reference = 0; text.script = scriptBytes + 2; text.description = descriptionBytes + 2
        var full = text, uncond = text
        full.reference = ref.count / c.latent_dim / c.p
        uncond.script = 0; uncond.description = 0
        let shapes = [uncond, text] + (ref.isEmpty ? [] : [full])
        let perStep = shapes.reduce(0) { $0 + forwardFLOPs(c, $1) }
        let products = Double(steps) * shapes.reduce(0) { $0 + matrixProductSeconds(c, $1) }
        return SampleResult(seconds: t2 - t0, audioSeconds: Double(F * vc.hop) / Double(Audio.modelRate), passes: DiTSampler.passes(cond), steps: steps,
                            decodeSeconds: t2 - t1, samplingFLOPs: Double(steps) * perStep, matrixProductSeconds: products)
    }
}
