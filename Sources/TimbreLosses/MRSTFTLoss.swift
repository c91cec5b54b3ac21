import Foundation
import TimbreDSP
import TimbreTensor

/// Multi-resolution STFT loss with auraloss 0.4.0's `MultiResolutionSTFTLoss` semantics (docs/design.md §2):
/// for each FFT size n (default 2048 … 32), hop n/4, periodic Hann window of length n, centred
/// STFT with reflect padding, magnitude m = √max(re² + im², 1e-8);
///
///     SC_n  = ‖m − m̂‖_F / ‖m‖_F          (over the whole batch; m from the target)
///     LM_n  = mean |log m − log m̂|
///     loss  = (1/R) Σ_n (SC_n + LM_n)
///
/// Backward gives dL/dx̂ for the prediction: dL/dm̂ = (1/R)[(m̂ − m)/(‖m − m̂‖‖m‖) +
/// sign(log m̂ − log m)/(N_n m̂)], through m̂ = |Ŝ| (zero where the 1e-8 clamp is active) and the
/// adjoint of the windowed real FFT (an inverse real FFT, halved for the paired bins), folded
/// back through the reflect padding.
///
/// Shapes: prediction and target `[B, 1, T]` (or `[B, T]`). Generic over Float (training) and
/// Double (gradient checks).
public final class MRSTFTLoss<T: FFTScalar> {
    public let ffts: [Int]
    public let eps: T = 1e-8
    var cache: [Resolution] = []
    var shape: [Int] = []
    var dx = Workspace<T>()

    /// Per-resolution buffers (tensors, so workers can fill disjoint example slices).
    struct Resolution {
        var n: Int, hop: Int, frames: Int
        var ops: SpectralFrames<T>
        var pred: Tensor<T>     // complex spectra of the prediction [B, F, K, 2]
        var predMag: Tensor<T>  // [B, F, K]
        var targetMag: Tensor<T>
        var diffNorm: Double, targetNorm: Double
    }

    public init(ffts: [Int] = [2048, 1024, 512, 256, 128, 64, 32]) { self.ffts = ffts }

    /// The loss and its parts (`sc`, `log_mag`, each averaged over resolutions). Examples are
    /// spread over the cores; buffers are kept from call to call.
    public func forward(_ pred: Tensor<T>, _ target: Tensor<T>) -> (loss: Double, sc: Double, logMag: Double) {
        precondition(pred.shape == target.shape && pred.count > 0, "MRSTFTLoss: prediction \(pred.shape) and target \(target.shape) must match")
        shape = pred.shape
        let B = pred.shape[0], len = pred.count / B
        if cache.count != ffts.count || cache.first.map({ $0.predMag.shape != [B, 1 + (len + 2 * ($0.n / 2) - $0.n) / $0.hop, $0.n / 2 + 1] }) ?? true {
            cache = ffts.map { n in
                let hop = n / 4, F = 1 + (len + 2 * (n / 2) - n) / hop, K = n / 2 + 1
                return Resolution(n: n, hop: hop, frames: F, ops: SpectralFrames(n: n, hop: hop),
                                  pred: Tensor(zeros: [B, F, K, 2]), predMag: Tensor(zeros: [B, F, K]),
                                  targetMag: Tensor(zeros: [B, F, K]), diffNorm: 0, targetNorm: 0)
            }
        }
        let R = ffts.count
        var partial = [Double](repeating: 0, count: B * R * 3)  // (d², t², |Δlog|) per (example, resolution)
        let resolutions = cache
        partial.withUnsafeMutableBufferPointer { pb in
            let ps = (pred.data, target.data, pb.baseAddress!)
            // one target-spectrum buffer per example, sized for the largest resolution
            let tgtSize = resolutions.map { $0.frames * ($0.n / 2 + 1) * 2 }.max() ?? 0
            Parallel.items(B) { b, _ in
                let (pred, target, part) = ps
                var tgt = [T](repeating: 0, count: tgtSize)
                for ri in 0..<R {
                    do {
                        let r = resolutions[ri]
                        let F = r.frames, K = r.n / 2 + 1
                        // raw pointers: a tensor's subscript reads a class property (an exclusivity check per element)
                        let spec = r.pred.data + b * F * K * 2, pmag = r.predMag.data + b * F * K, tmag = r.targetMag.data + b * F * K
                        r.ops.forward(pred + b * len, len, into: spec)
                        tgt.withUnsafeMutableBufferPointer { r.ops.forward(target + b * len, len, into: $0.baseAddress!) }
                        var d2 = 0.0, t2 = 0.0, l1 = 0.0
                        for i in 0..<(F * K) {
                            let pre = spec[2 * i], pim = spec[2 * i + 1], tre = tgt[2 * i], tim = tgt[2 * i + 1]
                            let pm = max(pre * pre + pim * pim, eps).squareRoot(), tm = max(tre * tre + tim * tim, eps).squareRoot()
                            pmag[i] = pm; tmag[i] = tm
                            let d = Double(tm - pm)
                            d2 += d * d; t2 += Double(tm * tm)
                            l1 += abs(Double(T.log(tm / pm)))  // one log per bin: |log m − log m̂|
                        }
                        part[(b * R + ri) * 3] = d2; part[(b * R + ri) * 3 + 1] = t2; part[(b * R + ri) * 3 + 2] = l1
                    }
                }
            }
        }
        var sc = 0.0, lm = 0.0
        for ri in 0..<R {
            var d2 = 0.0, t2 = 0.0, l1 = 0.0
            for b in 0..<B { d2 += partial[(b * R + ri) * 3]; t2 += partial[(b * R + ri) * 3 + 1]; l1 += partial[(b * R + ri) * 3 + 2] }
            cache[ri].diffNorm = d2.squareRoot(); cache[ri].targetNorm = t2.squareRoot()
            sc += cache[ri].diffNorm / cache[ri].targetNorm
            lm += l1 / Double(B * cache[ri].frames * (cache[ri].n / 2 + 1))
        }
        return ((sc + lm) / Double(R), sc / Double(R), lm / Double(R))
    }

    /// dL/d(prediction), for an upstream gradient `scale` (the loss weight). Examples are spread
    /// over the cores (each writes only its own slice of the gradient).
    public func backward(scale: Double = 1) -> Tensor<T> {
        let B = shape[0], len = shape.reduce(1, *) / B
        let dx = self.dx.get(shape, zero: true)
        let R = Double(ffts.count)
        let cache = self.cache, eps = self.eps
        Parallel.items(B) { b, _ in
            let g = dx.data + b * len
            for r in cache {
                let n = r.n, K = n / 2 + 1, F = r.frames
                let a = r.diffNorm > 0 ? scale / (R * r.diffNorm * r.targetNorm) : 0
                let c = scale / (R * Double(B * F * K))
                let spec = r.pred.data, pmag = r.predMag.data, tmag = r.targetMag.data
                r.ops.adjoint(len, into: g) { f, k in
                    let i = (b * F + f) * K + k
                    let re = spec[2 * i], im = spec[2 * i + 1]
                    let pm = pmag[i], tm = tmag[i]
                    var dm = a * Double(pm - tm)
                    // sign(log m̂ − log m) is sign(m̂ − m): no logarithms here
                    if pm != tm { dm += c * (pm > tm ? 1 : -1) / Double(pm) }
                    guard re * re + im * im > eps else { return (0, 0) }
                    return (T(dm) * re / pm, T(dm) * im / pm)
                }
            }
        }
        return dx
    }
}
