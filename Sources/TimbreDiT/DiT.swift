import Foundation
import TimbreLayers
import TimbreTensor
import TimbreCheckpoint

/// MM-DiT sizes (docs/design.md §3). Keys as in recipes.
public struct DiTConfig: ModelConfig, Equatable {
    public var d_audio: Int
    public var d_text: Int
    public var layers: Int
    public var heads: Int
    public var head_dim: Int
    /// SwiGLU hidden widths of the audio and text experts.
    public var ff_audio: Int
    public var ff_text: Int
    /// Latent channels D (from the VAE) and frames per token p.
    public var latent_dim: Int
    public var patch: Int?
    /// Conditioning width (default d_audio).
    public var d_c: Int?

    public init(d_audio: Int, d_text: Int, layers: Int, heads: Int, head_dim: Int, ff_audio: Int, ff_text: Int,
                latent_dim: Int, patch: Int? = nil, d_c: Int? = nil) {
        self.d_audio = d_audio; self.d_text = d_text; self.layers = layers; self.heads = heads; self.head_dim = head_dim
        self.ff_audio = ff_audio; self.ff_text = ff_text; self.latent_dim = latent_dim; self.patch = patch; self.d_c = d_c
    }

    public var p: Int { patch ?? 1 }
    public var dc: Int { d_c ?? d_audio }
    public var attentionWidth: Int { heads * head_dim }
    public static let vocab = 259, pad = 256, bos = 257, eos = 258

    public func validate() -> [String] {
        typealias L = ModelLimits
        var p = [L.check(d_audio, "d_audio", 1...16384), L.check(d_text, "d_text", 1...16384), L.check(layers, "layers", 1...256),
                 L.check(heads, "heads", 1...256), L.check(head_dim, "head_dim", 2...1024), L.check(ff_audio, "ff_audio", 1...65536),
                 L.check(ff_text, "ff_text", 1...65536), L.check(latent_dim, "latent_dim", 1...4096), L.check(p, "patch", 1...64),
                 L.check(dc, "d_c", 1...16384)].compactMap { $0 }
        if head_dim % 2 != 0 { p.append("head_dim must be even (rotary embeddings rotate pairs), got \(head_dim)") }
        return p
    }

    /// Per layer: both experts' modulation, QKV, output projection and SwiGLU (the last text
    /// expert has only modulation and QKV); plus the embeddings, the time MLP and the final layer.
    public var parameterEstimate: Double {
        let da = Double(d_audio), dt = Double(d_text), w = Double(attentionWidth), c = Double(dc), pd = Double(p * latent_dim)
        let fullAudio = c * 4 * da + da * 3 * w + w * da + 3 * da * Double(ff_audio)
        let fullText = c * 4 * dt + dt * 3 * w + w * dt + 3 * dt * Double(ff_text)
        let lastText = c * dt + dt * 3 * w
        let rest = pd * da + Double(Self.vocab) * dt + 256 * c + c * c + dt * c + c * 2 * da + da * pd
        return Double(layers) * fullAudio + Double(layers - 1) * fullText + lastText + rest
    }
}

/// A batch in training precision.
public typealias DiTBatch = DiTBatchT<Float>

/// The weights of one expert in one layer (docs/design.md §3 block). In the last layer the text expert has
/// only its modulation (scale_msa) and QKV projection.
final class ExpertBlock<T: TensorScalar> {
    let d: Int, full: Bool
    let mod: Linear<T>, qkv: Linear<T>, qkNorm: QKNorm<T>
    let out: Linear<T>?, mlp: SwiGLU<T>?
    let normAttnIn: RMSNorm<T>, normAttnOut: RMSNorm<T>, normMlpIn: RMSNorm<T>, normMlpOut: RMSNorm<T>
    let modAttn = Modulate<T>(), modMlp = Modulate<T>(), gateAttn = TanhGate<T>(), gateMlp = TanhGate<T>()
    let rope: RoPE<T>

    init(_ s: ParamScope<T>, d: Int, ff: Int, dc: Int, heads: Int, headDim: Int, full: Bool) {
        self.d = d; self.full = full
        mod = Linear(s.child("mod"), dc, full ? 4 * d : d)
        qkv = Linear(s.child("attn").child("qkv"), d, 3 * heads * headDim, bias: false)
        qkNorm = QKNorm(s.child("attn"), heads: heads, headDim: headDim)
        out = full ? Linear(s.child("attn").child("out"), heads * headDim, d) : nil
        mlp = full ? SwiGLU(s.child("mlp"), dim: d, hidden: ff) : nil
        normAttnIn = RMSNorm(nil, d, weight: false); normAttnOut = RMSNorm(nil, d, weight: false)
        normMlpIn = RMSNorm(nil, d, weight: false); normMlpOut = RMSNorm(nil, d, weight: false)
        rope = RoPE(heads: heads, headDim: headDim, parts: 3, rotatedParts: [0, 1])
    }

    /// Zero the rows of the modulation that produce gates (each block starts as the identity).
    func zeroGates() {
        guard full else { return }
        let inF = mod.inFeatures
        for part in [1, 3] {
            for r in (part * d)..<((part + 1) * d) {
                for i in 0..<inF { mod.weight.value[r * inF + i] = 0 }
                mod.bias?.value[r] = 0
            }
        }
    }

    /// This step's modulation `[B, parts·d]` (`mod` of SiLU(c)): scale before attention, then
    /// (full blocks) the attention gate, the MLP's scale and its gate.
    var modulation: Tensor<T>?
    var dx1 = Workspace<T>(), dx = Workspace<T>(), dO = Workspace<T>()

    /// RMSNorm → modulate → QKV → QK-norm → RoPE: this expert's `[B, N, 3A]` for the joint attention.
    func queriesKeysValues(_ x: Tensor<T>, positions: [Double], rotated: [Bool]) -> Tensor<T> {
        rope.forward(qkNorm.forward(qkv.forward(modAttn.forward(normAttnIn.forward(x), scale: part(modulation!, 0)))),
                     positions: positions, rotate: rotated)
    }

    /// Backward of `queriesKeysValues` from dL/d(qkv): adds dL/dx into `dx` and the scale's
    /// gradient into part 0 of `dm` `[B, parts·d]`.
    func queriesKeysValuesBackward(_ dqkv: Tensor<T>, dx: Tensor<T>, dm: Tensor<T>) {
        let (dNormed, dScale, _) = modAttn.backward(qkv.backward(qkNorm.backward(rope.backward(dqkv))))
        Kernels.axpy(dx.count, 1, normAttnIn.backward(dNormed).data, dx.data)
        let B = dm.shape[0], parts = dm.shape[1] / d
        for b in 0..<B { for j in 0..<d { dm[b * parts * d + j] += dScale[b * d + j] } }
    }

    /// Modulation vectors from SiLU(c) `[B, dc]`: part k of `[B, parts·d]` as `[B, d]`.
    func part(_ m: Tensor<T>, _ k: Int) -> Tensor<T> {
        let B = m.shape[0], parts = m.shape[1] / d
        let out = Tensor<T>(zeros: [B, d])
        for b in 0..<B { move(d, from: m.data, (b * parts + k) * d, to: out.data, b * d) }
        return out
    }
}

/// The multimodal flow-matching transformer (docs/design.md §3): audio expert (target, reference) and text
/// expert (script, description), one joint attention per layer, modulated RMSNorm, tanh-gated
/// sandwich residuals, per-head QK-norm, RoPE per segment; output on target tokens.
public final class DiT<T: TensorScalar> {
    public let config: DiTConfig
    public let store: ParameterStore<T>
    let audioIn: Linear<T>, textIn: Embedding<T>
    let segAudio: Param<T>, segText: Param<T>
    let tEmbed = TimestepEmbedding<T>(dim: 256), tMLP1: Linear<T>, tAct = SiLU<T>(), tMLP2: Linear<T>
    let pool = MaskedMeanPool<T>(), poolProj: Linear<T>
    let cAct = SiLU<T>()
    let audio: [ExpertBlock<T>], text: [ExpertBlock<T>]
    let attention: [JointAttention<T>]
    let outNorm: LayerNorm<T>, outMod: Linear<T>, outModulate = Modulate<T>(), outProj: Linear<T>
    /// Per-channel statistics of the training latents (`(z − mean)/std` in, `· std + mean` out),
    /// saved with the weights and never trained.
    public let latentMean: Param<T>, latentStd: Param<T>
    /// Script bytes per second of the training corpus and its latent hop (for duration estimates).
    public let corpusRate: Param<T>

    public init(_ config: DiTConfig, store: ParameterStore<T> = ParameterStore<T>(), seed: UInt64 = 0) {
        self.config = config; self.store = store
        let r = store.root, c = config
        audioIn = Linear(r.child("audio_in"), c.p * c.latent_dim, c.d_audio)
        textIn = Embedding(r.child("text_in"), vocab: DiTConfig.vocab, dim: c.d_text)
        segAudio = r.child("segment_audio").param("weight", [2, c.d_audio], .embedding, .normal(std: 0.02))
        segText = r.child("segment_text").param("weight", [2, c.d_text], .embedding, .normal(std: 0.02))
        tMLP1 = Linear(r.child("t_mlp").child("0"), 256, c.dc)
        tMLP2 = Linear(r.child("t_mlp").child("2"), c.dc, c.dc)
        poolProj = Linear(r.child("description_pool"), c.d_text, c.dc)
        var a: [ExpertBlock<T>] = [], t: [ExpertBlock<T>] = [], att: [JointAttention<T>] = []
        for l in 0..<c.layers {
            let last = l == c.layers - 1
            a.append(ExpertBlock(r.child("blocks").child(l).child("audio"), d: c.d_audio, ff: c.ff_audio, dc: c.dc,
                                 heads: c.heads, headDim: c.head_dim, full: true))
            t.append(ExpertBlock(r.child("blocks").child(l).child("text"), d: c.d_text, ff: c.ff_text, dc: c.dc,
                                 heads: c.heads, headDim: c.head_dim, full: !last))
            att.append(JointAttention(heads: c.heads, headDim: c.head_dim))
        }
        audio = a; text = t; attention = att
        jointWS = Array(repeating: Workspace<T>(), count: c.layers)
        oaWS = jointWS; otWS = jointWS
        outNorm = LayerNorm(nil, c.d_audio, affine: false, eps: 1e-6)
        outMod = Linear(r.child("final").child("mod"), c.dc, 2 * c.d_audio)
        outProj = Linear(r.child("final").child("proj"), c.d_audio, c.p * c.latent_dim, zeroInit: true)
        latentMean = r.child("latent").param("mean", [c.latent_dim], .buffer, .zeros)
        latentStd = r.child("latent").param("std", [c.latent_dim], .buffer, .constant(1))
        corpusRate = r.child("corpus").param("bytes_per_second", [1], .buffer, .constant(15))
        if !store.isFinalized {
            store.finalize(seed: seed)
            for b in audio + text { b.zeroGates() }
        }
    }

    // Activation buffers reused across steps (fresh allocations cost page faults and zeroing).
    var jointWS: [Workspace<T>] = [], oaWS: [Workspace<T>] = [], otWS: [Workspace<T>] = []
    var dOWS = Workspace<T>(), dqaWS = Workspace<T>(), dqtWS = Workspace<T>(), dotWS = Workspace<T>()

    /// Inference only: attention keeps no probabilities for a backward pass.
    public func inferenceMode() { for a in attention { a.training = false } }

    // MARK: forward state, kept for the backward pass
    var tokens: DiTTokens<T>?

    /// Velocity for the target latents of `batch` (docs/design.md §3). Shapes, with B examples,
    /// Na audio tokens and Nt text tokens (see `DiTTokens`), A = heads · head_dim:
    ///
    ///     xA [B, Na, d_audio]    xT [B, Nt, d_text]    c [B, d_c]
    ///     qkv per expert [B, N, 3A] → joint [B, Na + Nt, 3A] → attention → [B, Na + Nt, A]
    ///     output: target tokens [B, targetTokens, d_audio] → velocity [B, targetTokens·p, D]
    public func forward(_ batch: DiTBatchT<T>) -> Tensor<T> {
        let cfg = config, p = cfg.p, D = cfg.latent_dim, A = cfg.attentionWidth
        let tk = DiTTokens(batch, patch: p, latentDim: D)
        tokens = tk
        let B = tk.batchSize

        // Audio and text embeddings, plus each segment's embedding.
        var xA = audioIn.forward(tk.audioPatches).clone()
        Self.segments(xA, segAudio, firstSegmentTokens: tk.targetTokens, backward: false)
        let textEmbedding = textIn.forward(tk.textIDs, shape: [B, tk.textTokens])
        var xT = textEmbedding.clone()
        Self.segments(xT, segText, firstSegmentTokens: tk.scriptTokens, backward: false)

        // Conditioning: c = MLP(timestep) + projection of the pooled description (where there is one).
        let time = Tensor<T>(batch.t.map { T(Double($0)) }, shape: [B])
        let c = tMLP2.forward(tAct.forward(tMLP1.forward(tEmbed.forward(time)))).clone()
        let pooled = poolProj.forward(pool.forward(textEmbedding, mask: tk.descriptionMask))
        for b in 0..<B where tk.hasDescription[b] { for j in 0..<cfg.dc { c[b * cfg.dc + j] += pooled[b * cfg.dc + j] } }
        let siluC = cAct.forward(c)

        // Layers: each expert's modulated QKV, one joint attention, each expert's gated residuals.
        for l in 0..<cfg.layers {
            let ea = audio[l], et = text[l]
            ea.modulation = ea.mod.forward(siluC)
            et.modulation = et.mod.forward(siluC)
            let qkvA = ea.queriesKeysValues(xA, positions: tk.audioPositions, rotated: tk.audioRotated)
            let qkvT = et.queriesKeysValues(xT, positions: tk.textPositions, rotated: tk.textRotated)
            let joint = jointWS[l].get([B, tk.audioTokens + tk.textTokens, 3 * A])
            tk.join(qkvA, qkvT, into: joint)
            let o = attention[l].forward(joint, keyMask: tk.jointMask)
            let oA = oaWS[l].get([B, tk.audioTokens, A]), oT = otWS[l].get([B, tk.textTokens, A])
            tk.split(o, into: oA, oT)
            xA = Self.afterAttention(ea, xA, oA)
            if et.full { xT = Self.afterAttention(et, xT, oT) }
        }

        // Output on the target tokens: modulated LayerNorm, projection to patches.
        let target = tk.targetRows(xA)
        let (shift, scale) = Self.halves(outMod.forward(siluC), width: cfg.d_audio)
        let y = outProj.forward(outModulate.forward(outNorm.forward(target), scale: scale, shift: shift))
        // Unpatchify: token n holds frames n·p … n·p+p−1, frame-major — the same memory as [B, T, D].
        let v = Tensor<T>(zeros: [B, tk.targetTokens * p, D])
        v.data.update(from: y.data, count: y.count)
        return v
    }

    /// `[B, 2w]` as its two halves `[B, w]` (the final layer's shift and scale).
    static func halves(_ m: Tensor<T>, width w: Int) -> (Tensor<T>, Tensor<T>) {
        let B = m.shape[0]
        let first = Tensor<T>(zeros: [B, w]), second = Tensor<T>(zeros: [B, w])
        for b in 0..<B {
            move(w, from: m.data, b * 2 * w, to: first.data, b * w)
            move(w, from: m.data, (b * 2 + 1) * w, to: second.data, b * w)
        }
        return (first, second)
    }

    /// Backward from dL/dv `[B, T, D]`: accumulates every parameter gradient and returns
    /// dL/d(target latents) and dL/d(reference latents) (the flow-matching loss needs only the
    /// parameters; gradient checks use the inputs too).
    @discardableResult
    public func backward(_ dv: Tensor<T>, batch: DiTBatchT<T>) -> (target: Tensor<T>, reference: Tensor<T>) {
        guard let tk = tokens else { preconditionFailure("DiT.backward before forward") }
        let cfg = config, p = cfg.p, D = cfg.latent_dim, da = cfg.d_audio, dt = cfg.d_text, dc = cfg.dc
        let B = tk.batchSize, A = cfg.attentionWidth
        precondition(dv.shape == [B, tk.targetTokens * p, D], "DiT.backward: dv must be \([B, tk.targetTokens * p, D]), got \(dv.shape)")
        let dSiluC = Tensor<T>(zeros: [B, dc])

        // Output layer.
        let dy = Tensor<T>(dv.array, shape: [B, tk.targetTokens, p * D])
        let (dNormed, dScale, dShift) = outModulate.backward(outProj.backward(dy))
        let dTarget = outNorm.backward(dNormed)
        let dOutMod = Tensor<T>(zeros: [B, 2 * da])
        for b in 0..<B {
            move(da, from: dShift!.data, b * da, to: dOutMod.data, b * 2 * da)
            move(da, from: dScale.data, b * da, to: dOutMod.data, (b * 2 + 1) * da)
        }
        Kernels.axpy(dSiluC.count, 1, outMod.backward(dOutMod).data, dSiluC.data)
        var dxA = tk.audioRows(fromTarget: dTarget), dxT = Tensor<T>(zeros: [B, tk.textTokens, dt])

        // Layers, last first.
        for l in stride(from: cfg.layers - 1, through: 0, by: -1) {
            let ea = audio[l], et = text[l]
            let dModA = Tensor<T>(zeros: [B, 4 * da]), dModT = Tensor<T>(zeros: [B, (et.full ? 4 : 1) * dt])
            let doA: Tensor<T>, doT: Tensor<T>
            (dxA, doA) = Self.afterAttentionBackward(ea, dxA, dm: dModA)
            if et.full { (dxT, doT) = Self.afterAttentionBackward(et, dxT, dm: dModT) } else { doT = dotWS.get([B, tk.textTokens, A], zero: true) }
            let dO = dOWS.get([B, tk.audioTokens + tk.textTokens, A])
            tk.join(doA, doT, into: dO)
            let dJoint = attention[l].backward(dO)
            let dqkvA = dqaWS.get([B, tk.audioTokens, 3 * A]), dqkvT = dqtWS.get([B, tk.textTokens, 3 * A])
            tk.split(dJoint, into: dqkvA, dqkvT)
            for (e, dqkv, dMod, dx) in [(ea, dqkvA, dModA, dxA), (et, dqkvT, dModT, dxT)] {
                e.queriesKeysValuesBackward(dqkv, dx: dx, dm: dMod)
                Kernels.axpy(dSiluC.count, 1, e.mod.backward(dMod).data, dSiluC.data)
            }
        }

        // Conditioning.
        let dC = cAct.backward(dSiluC)
        let dPooled = Tensor<T>(zeros: [B, dc])
        for b in 0..<B where tk.hasDescription[b] { move(dc, from: dC.data, b * dc, to: dPooled.data, b * dc) }
        let dEmbeddingPool = pool.backward(poolProj.backward(dPooled)).clone()
        _ = tMLP1.backward(tAct.backward(tMLP2.backward(dC)))

        // Text and audio inputs.
        Self.segments(dxT, segText, firstSegmentTokens: tk.scriptTokens, backward: true)
        Kernels.axpy(dxT.count, 1, dEmbeddingPool.data, dxT.data)
        textIn.backward(dxT)
        Self.segments(dxA, segAudio, firstSegmentTokens: tk.targetTokens, backward: true)
        return tk.unpatch(audioIn.backward(dxA), batch: batch, patch: p, latentDim: D)
    }

    /// Backward of `afterAttention` from dL/d(x out): returns dL/d(x in) and dL/d(attention
    /// output); adds the gate and MLP-scale gradients into parts 1–3 of `dm` `[B, 4·d]`.
    static func afterAttentionBackward(_ e: ExpertBlock<T>, _ dx2: Tensor<T>, dm: Tensor<T>) -> (Tensor<T>, Tensor<T>) {
        let B = dx2.shape[0], d = e.d
        let (dx1a, df, dg3) = e.gateMlp.backward(dx2)
        let dx1 = e.dx1.get(dx1a.shape)
        dx1.copy(from: dx1a)
        let (dn, ds2, _) = e.modMlp.backward(e.mlp!.backward(e.normMlpOut.backward(df)))
        Kernels.axpy(dx1.count, 1, e.normMlpIn.backward(dn).data, dx1.data)
        let (dxa, da, dg1) = e.gateAttn.backward(dx1)
        let dx = e.dx.get(dxa.shape)
        dx.copy(from: dxa)
        let dO = e.out!.backward(e.normAttnOut.backward(da))
        for b in 0..<B {
            for j in 0..<d {
                dm[(b * 4 + 1) * d + j] += dg1[b * d + j]
                dm[(b * 4 + 2) * d + j] += ds2[b * d + j]
                dm[(b * 4 + 3) * d + j] += dg3[b * d + j]
            }
        }
        return (dx, dO)
    }

    /// Segment embeddings of an expert's tokens `[B, N, d]`: tokens before `firstSegmentTokens`
    /// use row 0 of `table`, the rest row 1. Forward adds the rows to `x`; backward adds `x`
    /// (the gradient) into the rows' gradients.
    static func segments(_ x: Tensor<T>, _ table: Param<T>, firstSegmentTokens n0: Int, backward: Bool) {
        let (B, N, d) = (x.shape[0], x.shape[1], x.shape[2])
        for b in 0..<B {
            for n in 0..<N {
                let row = x.data + (b * N + n) * d, off = (n < n0 ? 0 : 1) * d
                if backward { Kernels.axpy(d, 1, row, table.grad.data + off) } else { Kernels.axpy(d, 1, table.value.data + off, row) }
            }
        }
    }

    static func afterAttention(_ e: ExpertBlock<T>, _ x: Tensor<T>, _ o: Tensor<T>) -> Tensor<T> {
        let m = e.modulation!
        let a = e.normAttnOut.forward(e.out!.forward(o))
        let x1 = e.gateAttn.forward(x, a, gate: e.part(m, 1))  // the gate's own buffer, kept until the next step
        let f = e.normMlpOut.forward(e.mlp!.forward(e.modMlp.forward(e.normMlpIn.forward(x1), scale: e.part(m, 2))))
        return e.gateMlp.forward(x1, f, gate: e.part(m, 3))
    }
}

/// The batch in the model's scalar type (Float for training, Double for gradient checks).
public struct DiTBatchT<T: TensorScalar> {
    public var target: Tensor<T>, targetFrames: [Int]
    public var reference: Tensor<T>, referenceFrames: [Int]
    public var script: [[Int]], description: [[Int]]
    public var t: [Float]
    public init(target: Tensor<T>, targetFrames: [Int], reference: Tensor<T>, referenceFrames: [Int],
                script: [[Int]], description: [[Int]], t: [Float]) {
        self.target = target; self.targetFrames = targetFrames; self.reference = reference; self.referenceFrames = referenceFrames
        self.script = script; self.description = description; self.t = t
    }
}

/// Copies `count` elements from `src + srcOffset` to `dst + dstOffset`.
@inline(__always)
func move<T>(_ count: Int, from src: UnsafeMutablePointer<T>, _ srcOffset: Int, to dst: UnsafeMutablePointer<T>, _ dstOffset: Int) {
    (dst + dstOffset).update(from: src + srcOffset, count: count)
}
