import TimbreTensor

/// How a batch becomes the MM-DiT's tokens (docs/design.md §3, "Tokens, segments and experts").
/// With B examples, patch p and D latent channels:
///
///     batch.target        [B, targetTokens·p, D]       latents, frame-major
///     batch.reference     [B, referenceTokens·p, D]
///     audioPatches        [B, audioTokens, p·D]        target patches, then reference patches
///     textIDs             [B, textTokens]              script bytes, then description bytes
///     joint sequence      [B, audioTokens + textTokens] each example's audio, then its text
///
/// A token is real (mask true) when it holds frames or a byte rather than padding; padding is
/// never attended to. RoPE positions: a patch's index within its segment; a script byte's index
/// scaled to the target's length (script and speech share a time axis); description bytes are
/// not rotated.
struct DiTTokens<T: TensorScalar> {
    let batchSize: Int
    let targetTokens: Int, referenceTokens: Int
    let scriptTokens: Int, descriptionTokens: Int
    var audioTokens: Int { targetTokens + referenceTokens }
    var textTokens: Int { scriptTokens + descriptionTokens }

    let audioPatches: Tensor<T>
    let audioMask: [Bool], audioPositions: [Double], audioRotated: [Bool]
    let textIDs: [Int]
    let textMask: [Bool], textPositions: [Double], textRotated: [Bool]
    /// The description's real tokens (what the conditioning pools), and whether an example has any.
    let descriptionMask: [Bool], hasDescription: [Bool]
    /// Key mask of the joint sequence, `[B · (audioTokens + textTokens)]`.
    let jointMask: [Bool]

    init(_ batch: DiTBatchT<T>, patch p: Int, latentDim D: Int) {
        let B = batch.t.count
        let targetFrames = batch.target.shape[1], referenceFrames = batch.reference.shape[1]
        batchSize = B
        targetTokens = targetFrames / p; referenceTokens = referenceFrames / p
        scriptTokens = batch.script.first?.count ?? 0; descriptionTokens = batch.description.first?.count ?? 0
        let Na = targetTokens + referenceTokens, Nt = scriptTokens + descriptionTokens

        let patches = Tensor<T>(zeros: [B, Na, p * D])
        var aMask = [Bool](repeating: false, count: B * Na)
        var aPos = [Double](repeating: 0, count: B * Na), aRot = [Bool](repeating: false, count: B * Na)
        for b in 0..<B {
            for n in 0..<targetTokens {
                (patches.data + (b * Na + n) * p * D).update(from: batch.target.data + (b * targetFrames + n * p) * D, count: p * D)
                let real = n < batch.targetFrames[b] / p
                aMask[b * Na + n] = real; aPos[b * Na + n] = Double(n); aRot[b * Na + n] = real
            }
            for n in 0..<referenceTokens {
                let i = b * Na + targetTokens + n
                (patches.data + i * p * D).update(from: batch.reference.data + (b * referenceFrames + n * p) * D, count: p * D)
                let real = n < batch.referenceFrames[b] / p
                aMask[i] = real; aPos[i] = Double(n); aRot[i] = real
            }
        }

        var ids = [Int](repeating: DiTConfig.pad, count: B * Nt)
        var tMask = [Bool](repeating: false, count: B * Nt), dMask = [Bool](repeating: false, count: B * Nt)
        var tPos = [Double](repeating: 0, count: B * Nt), tRot = [Bool](repeating: false, count: B * Nt)
        var hasDesc = [Bool](repeating: false, count: B)
        for b in 0..<B {
            let targetLength = Double(batch.targetFrames[b] / p)
            let scriptLength = batch.script[b].filter { $0 != DiTConfig.pad }.count
            for i in 0..<scriptTokens {
                ids[b * Nt + i] = batch.script[b][i]
                let real = batch.script[b][i] != DiTConfig.pad
                tMask[b * Nt + i] = real; tRot[b * Nt + i] = real
                tPos[b * Nt + i] = scriptLength > 0 ? Double(i) * targetLength / Double(scriptLength) : 0
            }
            for i in 0..<descriptionTokens {
                let j = b * Nt + scriptTokens + i
                ids[j] = batch.description[b][i]
                let real = batch.description[b][i] != DiTConfig.pad
                tMask[j] = real; dMask[j] = real
                if real { hasDesc[b] = true }
            }
        }

        var joint: [Bool] = []
        for b in 0..<B {
            joint += aMask[(b * Na)..<((b + 1) * Na)]
            joint += tMask[(b * Nt)..<((b + 1) * Nt)]
        }
        audioPatches = patches; audioMask = aMask; audioPositions = aPos; audioRotated = aRot
        textIDs = ids; textMask = tMask; textPositions = tPos; textRotated = tRot
        descriptionMask = dMask; hasDescription = hasDesc; jointMask = joint
    }

    /// Each example's audio rows, then its text rows: `[B, Na, w]` and `[B, Nt, w]` into `joint`
    /// `[B, Na + Nt, w]`.
    func join(_ audio: Tensor<T>, _ text: Tensor<T>, into joint: Tensor<T>) {
        let Na = audioTokens, Nt = textTokens, w = joint.shape[2]
        for b in 0..<batchSize {
            move(Na * w, from: audio.data, b * Na * w, to: joint.data, b * (Na + Nt) * w)
            move(Nt * w, from: text.data, b * Nt * w, to: joint.data, (b * (Na + Nt) + Na) * w)
        }
    }

    /// The inverse of `join`: `joint` `[B, Na + Nt, w]` into `audio` `[B, Na, w]` and `text` `[B, Nt, w]`.
    func split(_ joint: Tensor<T>, into audio: Tensor<T>, _ text: Tensor<T>) {
        let Na = audioTokens, Nt = textTokens, w = joint.shape[2]
        for b in 0..<batchSize {
            move(Na * w, from: joint.data, b * (Na + Nt) * w, to: audio.data, b * Na * w)
            move(Nt * w, from: joint.data, (b * (Na + Nt) + Na) * w, to: text.data, b * Nt * w)
        }
    }

    /// The target tokens of the audio rows: `[B, Na, w]` → `[B, targetTokens, w]`.
    func targetRows(_ audio: Tensor<T>) -> Tensor<T> {
        let w = audio.shape[2]
        let out = Tensor<T>(zeros: [batchSize, targetTokens, w])
        for b in 0..<batchSize { move(targetTokens * w, from: audio.data, b * audioTokens * w, to: out.data, b * targetTokens * w) }
        return out
    }

    /// The inverse of `targetRows` for a gradient: `[B, targetTokens, w]` into zeroed audio rows.
    func audioRows(fromTarget target: Tensor<T>) -> Tensor<T> {
        let w = target.shape[2]
        let out = Tensor<T>(zeros: [batchSize, audioTokens, w])
        for b in 0..<batchSize { move(targetTokens * w, from: target.data, b * targetTokens * w, to: out.data, b * audioTokens * w) }
        return out
    }

    /// dL/d(audio patches) `[B, Na, p·D]` back to dL/d(target) and dL/d(reference) latents.
    func unpatch(_ dPatches: Tensor<T>, batch: DiTBatchT<T>, patch p: Int, latentDim D: Int) -> (target: Tensor<T>, reference: Tensor<T>) {
        let Na = audioTokens, targetFrames = batch.target.shape[1], referenceFrames = batch.reference.shape[1]
        let dTarget = Tensor<T>(zeros: batch.target.shape), dReference = Tensor<T>(zeros: batch.reference.shape)
        for b in 0..<batchSize {
            for n in 0..<targetTokens {
                move(p * D, from: dPatches.data, (b * Na + n) * p * D, to: dTarget.data, (b * targetFrames + n * p) * D)
            }
            for n in 0..<referenceTokens {
                move(p * D, from: dPatches.data, (b * Na + targetTokens + n) * p * D, to: dReference.data, (b * referenceFrames + n * p) * D)
            }
        }
        return (dTarget, dReference)
    }
}
