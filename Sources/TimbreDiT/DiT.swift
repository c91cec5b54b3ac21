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

    var m: Tensor<T>?
    var dx1 = Workspace<T>(), dx = Workspace<T>(), dO = Workspace<T>()

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

    // MARK: forward state
    var B = 0, Na = 0, Nt = 0, Ntgt = 0, Nref = 0, Ls = 0, Ld = 0
    var maskAudio: [Bool] = [], maskText: [Bool] = [], descMask: [Bool] = [], hasDescription: [Bool] = []
    var c: Tensor<T>?, siluC: Tensor<T>?

    /// Tokens per example: audio `[target patches, reference patches]`, text `[script, description]`.
    public func forward(_ batch: DiTBatchT<T>) -> Tensor<T> {
        let c0 = config, p = c0.p, D = c0.latent_dim
        B = batch.t.count
        Ntgt = batch.target.shape[1] / p; Nref = batch.reference.shape[1] / p
        Ls = batch.script.first?.count ?? 0; Ld = batch.description.first?.count ?? 0
        Na = Ntgt + Nref; Nt = Ls + Ld
        // Audio tokens: patches frame-major [p, D] → p·D.
        let aIn = Tensor<T>(zeros: [B, Na, p * D])
        maskAudio = [Bool](repeating: false, count: B * Na)
        var posA = [Double](repeating: 0, count: B * Na), rotA = [Bool](repeating: false, count: B * Na)
        for b in 0..<B {
            for n in 0..<Ntgt {
                (aIn.data + (b * Na + n) * p * D).update(from: batch.target.data + (b * batch.target.shape[1] + n * p) * D, count: p * D)
                let valid = n < batch.targetFrames[b] / p
                maskAudio[b * Na + n] = valid; posA[b * Na + n] = Double(n); rotA[b * Na + n] = valid
            }
            for n in 0..<Nref {
                (aIn.data + (b * Na + Ntgt + n) * p * D).update(from: batch.reference.data + (b * batch.reference.shape[1] + n * p) * D, count: p * D)
                let valid = n < batch.referenceFrames[b] / p
                maskAudio[b * Na + Ntgt + n] = valid; posA[b * Na + Ntgt + n] = Double(n); rotA[b * Na + Ntgt + n] = valid
            }
        }
        var xA = audioIn.forward(aIn).clone()
        Self.segments(xA, segAudio, firstSegmentTokens: Ntgt, backward: false)
        // Text tokens.
        var ids = [Int](repeating: DiTConfig.pad, count: B * Nt)
        maskText = [Bool](repeating: false, count: B * Nt); descMask = [Bool](repeating: false, count: B * Nt)
        var posT = [Double](repeating: 0, count: B * Nt), rotT = [Bool](repeating: false, count: B * Nt)
        hasDescription = [Bool](repeating: false, count: B)
        for b in 0..<B {
            let nTarget = Double(batch.targetFrames[b] / p)
            let sl = batch.script[b].filter { $0 != DiTConfig.pad }.count
            for i in 0..<Ls {
                ids[b * Nt + i] = batch.script[b][i]
                let valid = batch.script[b][i] != DiTConfig.pad
                maskText[b * Nt + i] = valid; rotT[b * Nt + i] = valid
                posT[b * Nt + i] = sl > 0 ? Double(i) * nTarget / Double(sl) : 0
            }
            for i in 0..<Ld {
                ids[b * Nt + Ls + i] = batch.description[b][i]
                let valid = batch.description[b][i] != DiTConfig.pad
                maskText[b * Nt + Ls + i] = valid; descMask[b * Nt + Ls + i] = valid
                if valid { hasDescription[b] = true }
            }
        }
        let emb = textIn.forward(ids, shape: [B, Nt])
        var xT = emb.clone()
        Self.segments(xT, segText, firstSegmentTokens: Ls, backward: false)
        // Conditioning vector.
        let tt = Tensor<T>(batch.t.map { T(Double($0)) }, shape: [B])
        let ct = tMLP2.forward(tAct.forward(tMLP1.forward(tEmbed.forward(tt)))).clone()
        let pooled = poolProj.forward(pool.forward(emb, mask: descMask))
        for b in 0..<B where hasDescription[b] { for j in 0..<c0.dc { ct[b * c0.dc + j] += pooled[b * c0.dc + j] } }
        c = ct
        let sc = cAct.forward(ct)
        siluC = sc
        // Layers.
        var mask: [Bool] = []
        for b in 0..<B {
            mask += maskAudio[(b * Na)..<((b + 1) * Na)]
            mask += maskText[(b * Nt)..<((b + 1) * Nt)]
        }
        let W = 3 * c0.attentionWidth
        for l in 0..<c0.layers {
            let ea = audio[l], et = text[l]
            let ma = ea.mod.forward(sc), mt = et.mod.forward(sc)
            ea.m = ma; et.m = mt
            let qa = ea.rope.forward(ea.qkNorm.forward(ea.qkv.forward(ea.modAttn.forward(ea.normAttnIn.forward(xA), scale: ea.part(ma, 0)))),
                                     positions: posA, rotate: rotA)
            let qt = et.rope.forward(et.qkNorm.forward(et.qkv.forward(et.modAttn.forward(et.normAttnIn.forward(xT), scale: et.part(mt, 0)))),
                                     positions: posT, rotate: rotT)
            let joint = jointWS[l].get([B, Na + Nt, W])
            for b in 0..<B {
                move(Na * W, from: qa.data, b * Na * W, to: joint.data, b * (Na + Nt) * W)
                (joint.data + (b * (Na + Nt) + Na) * W).update(from: qt.data + b * Nt * W, count: Nt * W)
            }
            let o = attention[l].forward(joint, keyMask: mask)
            let A = c0.attentionWidth
            let oa = oaWS[l].get([B, Na, A]), ot = otWS[l].get([B, Nt, A])
            for b in 0..<B {
                move(Na * A, from: o.data, b * (Na + Nt) * A, to: oa.data, b * Na * A)
                move(Nt * A, from: o.data, (b * (Na + Nt) + Na) * A, to: ot.data, b * Nt * A)
            }
            xA = Self.afterAttention(ea, xA, oa)
            if et.full { xT = Self.afterAttention(et, xT, ot) }
        }
        // Output on target tokens.
        let tgt = Tensor<T>(zeros: [B, Ntgt, c0.d_audio])
        for b in 0..<B { move(Ntgt * c0.d_audio, from: xA.data, b * Na * c0.d_audio, to: tgt.data, b * Ntgt * c0.d_audio) }
        let mo = outMod.forward(sc)
        let shift = Tensor<T>(zeros: [B, c0.d_audio]), scale = Tensor<T>(zeros: [B, c0.d_audio])
        for b in 0..<B {
            move(c0.d_audio, from: mo.data, b * 2 * c0.d_audio, to: shift.data, b * c0.d_audio)
            move(c0.d_audio, from: mo.data, (b * 2 + 1) * c0.d_audio, to: scale.data, b * c0.d_audio)
        }
        let y = outProj.forward(outModulate.forward(outNorm.forward(tgt), scale: scale, shift: shift))
        // Unpatchify: token n holds frames n·p … n·p+p−1, frame-major — the same memory as [B, T, D].
        let v = Tensor<T>(zeros: [B, Ntgt * p, D])
        v.data.update(from: y.data, count: y.count)
        return v
    }

    /// Backward from dL/dv `[B, T, D]`: accumulates every parameter gradient and returns
    /// dL/d(target latents) and dL/d(reference latents) (the flow-matching loss needs only the
    /// parameters; gradient checks use the inputs too).
    @discardableResult
    public func backward(_ dv: Tensor<T>, batch: DiTBatchT<T>) -> (target: Tensor<T>, reference: Tensor<T>) {
        let c0 = config, p = c0.p, D = c0.latent_dim, da = c0.d_audio, dt = c0.d_text, dc = c0.dc
        precondition(dv.shape == [B, Ntgt * p, D], "DiT.backward: dv must be \([B, Ntgt * p, D]), got \(dv.shape)")
        let dsc = Tensor<T>(zeros: [B, dc])
        // Output layer.
        let dy = Tensor<T>(dv.array, shape: [B, Ntgt, p * D])
        let (dxn, dscale, dshift) = outModulate.backward(outProj.backward(dy))
        let dtgt = outNorm.backward(dxn)
        let dmo = Tensor<T>(zeros: [B, 2 * da])
        for b in 0..<B {
            move(da, from: dshift!.data, b * da, to: dmo.data, b * 2 * da)
            move(da, from: dscale.data, b * da, to: dmo.data, (b * 2 + 1) * da)
        }
        Kernels.axpy(dsc.count, 1, outMod.backward(dmo).data, dsc.data)
        var dxA = Tensor<T>(zeros: [B, Na, da]), dxT = Tensor<T>(zeros: [B, Nt, dt])
        for b in 0..<B { move(Ntgt * da, from: dtgt.data, b * Ntgt * da, to: dxA.data, b * Na * da) }
        let A = c0.attentionWidth, W = 3 * A
        for l in stride(from: c0.layers - 1, through: 0, by: -1) {
            let ea = audio[l], et = text[l]
            let dma = Tensor<T>(zeros: [B, 4 * da]), dmt = Tensor<T>(zeros: [B, (et.full ? 4 : 1) * dt])
            let doa: Tensor<T>, dot: Tensor<T>
            (dxA, doa) = Self.afterAttentionBackward(ea, dxA, dm: dma)
            if et.full { (dxT, dot) = Self.afterAttentionBackward(et, dxT, dm: dmt) } else { dot = dotWS.get([B, Nt, A], zero: true) }
            let dO = dOWS.get([B, Na + Nt, A])
            for b in 0..<B {
                move(Na * A, from: doa.data, b * Na * A, to: dO.data, b * (Na + Nt) * A)
                (dO.data + (b * (Na + Nt) + Na) * A).update(from: dot.data + b * Nt * A, count: Nt * A)
            }
            let dj = attention[l].backward(dO)
            let dqa = dqaWS.get([B, Na, W]), dqt = dqtWS.get([B, Nt, W])
            for b in 0..<B {
                move(Na * W, from: dj.data, b * (Na + Nt) * W, to: dqa.data, b * Na * W)
                move(Nt * W, from: dj.data, (b * (Na + Nt) + Na) * W, to: dqt.data, b * Nt * W)
            }
            for (e, dq, dm, dxe) in [(ea, dqa, dma, dxA), (et, dqt, dmt, dxT)] {
                let (dn, ds, _) = e.modAttn.backward(e.qkv.backward(e.qkNorm.backward(e.rope.backward(dq))))
                Kernels.axpy(dxe.count, 1, e.normAttnIn.backward(dn).data, dxe.data)
                let parts = dm.shape[1] / e.d
                for b in 0..<B { for j in 0..<e.d { dm[b * parts * e.d + j] += ds[b * e.d + j] } }
                Kernels.axpy(dsc.count, 1, e.mod.backward(dm).data, dsc.data)
            }
        }
        // Conditioning.
        let dct = cAct.backward(dsc)
        let dpooled = Tensor<T>(zeros: [B, dc])
        for b in 0..<B where hasDescription[b] { move(dc, from: dct.data, b * dc, to: dpooled.data, b * dc) }
        let dembPool = pool.backward(poolProj.backward(dpooled)).clone()
        _ = tMLP1.backward(tAct.backward(tMLP2.backward(dct)))
        // Text input.
        Self.segments(dxT, segText, firstSegmentTokens: Ls, backward: true)
        Kernels.axpy(dxT.count, 1, dembPool.data, dxT.data)
        textIn.backward(dxT)
        // Audio input.
        Self.segments(dxA, segAudio, firstSegmentTokens: Ntgt, backward: true)
        let daIn = audioIn.backward(dxA)
        let dTarget = Tensor<T>(zeros: batch.target.shape), dRef = Tensor<T>(zeros: batch.reference.shape)
        for b in 0..<B {
            for n in 0..<Ntgt { move(p * D, from: daIn.data, (b * Na + n) * p * D, to: dTarget.data, (b * batch.target.shape[1] + n * p) * D) }
            for n in 0..<Nref { move(p * D, from: daIn.data, (b * Na + Ntgt + n) * p * D, to: dRef.data, (b * batch.reference.shape[1] + n * p) * D) }
        }
        return (dTarget, dRef)
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
        let m = e.m!
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
