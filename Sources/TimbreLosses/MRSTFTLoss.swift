import Foundation
import TimbreDSP
import TimbreTensor

/// Multi-resolution STFT loss with auraloss 0.4.0's `MultiResolutionSTFTLoss` semantics (SPEC §2):
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

    struct Resolution {
        var n: Int, hop: Int, frames: Int
        var window: [T]
        var pred: [T]     // complex spectra of the prediction [B, F, K, 2]
        var predMag: [T]  // [B, F, K]
        var targetMag: [T]
        var diffNorm: Double, targetNorm: Double
    }

    public init(ffts: [Int] = [2048, 1024, 512, 256, 128, 64, 32]) { self.ffts = ffts }

    /// The loss and its parts (`sc`, `log_mag`, each averaged over resolutions).
    public func forward(_ pred: Tensor<T>, _ target: Tensor<T>) -> (loss: Double, sc: Double, logMag: Double) {
        precondition(pred.shape == target.shape && pred.count > 0, "MRSTFTLoss: prediction \(pred.shape) and target \(target.shape) must match")
        shape = pred.shape
        let B = pred.shape[0], len = pred.count / B
        cache = []
        var sc = 0.0, lm = 0.0
        for n in ffts {
            let hop = n / 4
            let window = (0..<n).map { T(0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(n))) }
            let F = 1 + (len + 2 * (n / 2) - n) / hop, K = n / 2 + 1
            var r = Resolution(n: n, hop: hop, frames: F, window: window, pred: [T](repeating: 0, count: B * F * K * 2),
                               predMag: [T](repeating: 0, count: B * F * K), targetMag: [T](repeating: 0, count: B * F * K),
                               diffNorm: 0, targetNorm: 0)
            var tgtSpec = [T](repeating: 0, count: F * K * 2)
            var d2 = 0.0, t2 = 0.0, l1 = 0.0
            for b in 0..<B {
                r.pred.withUnsafeMutableBufferPointer { ps in
                    spectrum(pred.data + b * len, len, n: n, hop: hop, window: window, frames: F, into: ps.baseAddress! + b * F * K * 2)
                }
                tgtSpec.withUnsafeMutableBufferPointer { ts in
                    spectrum(target.data + b * len, len, n: n, hop: hop, window: window, frames: F, into: ts.baseAddress!)
                }
                for i in 0..<(F * K) {
                    let pre = r.pred[b * F * K * 2 + 2 * i], pim = r.pred[b * F * K * 2 + 2 * i + 1]
                    let tre = tgtSpec[2 * i], tim = tgtSpec[2 * i + 1]
                    let pm = max(pre * pre + pim * pim, eps).squareRoot(), tm = max(tre * tre + tim * tim, eps).squareRoot()
                    r.predMag[b * F * K + i] = pm; r.targetMag[b * F * K + i] = tm
                    let d = Double(tm - pm)
                    d2 += d * d; t2 += Double(tm * tm)
                    l1 += abs(Double(T.log(tm) - T.log(pm)))
                }
            }
            r.diffNorm = d2.squareRoot(); r.targetNorm = t2.squareRoot()
            sc += r.diffNorm / r.targetNorm
            lm += l1 / Double(B * F * K)
            cache.append(r)
        }
        let R = Double(ffts.count)
        return ((sc + lm) / R, sc / R, lm / R)
    }

    /// Windowed, centred (reflect) STFT of one signal into `[F, K, 2]`.
    func spectrum(_ x: UnsafePointer<T>, _ len: Int, n: Int, hop: Int, window: [T], frames F: Int, into out: UnsafeMutablePointer<T>) {
        var buf = [T](repeating: 0, count: n)
        let p = n / 2, K = n / 2 + 1
        buf.withUnsafeMutableBufferPointer { b in
            for f in 0..<F {
                let start = f * hop - p
                if start >= 0 && start + n <= len {
                    for k in 0..<n { b[k] = x[start + k] * window[k] }
                } else {
                    for k in 0..<n { b[k] = x[reflect(start + k, len)] * window[k] }
                }
                T.rfft(n, b.baseAddress!, out + f * K * 2)
            }
        }
    }

    @inline(__always) func reflect(_ j: Int, _ n: Int) -> Int {
        if j >= 0 && j < n { return j }
        if n == 1 { return 0 }
        let period = 2 * (n - 1)
        let m = ((j % period) + period) % period
        return m < n ? m : period - m
    }

    /// dL/d(prediction), for an upstream gradient `scale` (the loss weight).
    public func backward(scale: Double = 1) -> Tensor<T> {
        let B = shape[0], len = shape.reduce(1, *) / B
        let dx = self.dx.get(shape, zero: true)
        let R = Double(ffts.count)
        for r in cache {
            let n = r.n, K = n / 2 + 1, F = r.frames, p = n / 2
            let a = r.diffNorm > 0 ? scale / (R * r.diffNorm * r.targetNorm) : 0
            let c = scale / (R * Double(B * F * K))
            var bins = [T](repeating: 0, count: K * 2), frame = [T](repeating: 0, count: n)
            for b in 0..<B {
                let g = dx.data + b * len
                for f in 0..<F {
                    for k in 0..<K {
                        let i = (b * F + f) * K + k
                        let re = r.pred[2 * i], im = r.pred[2 * i + 1]
                        let pm = r.predMag[i], tm = r.targetMag[i]
                        var dm = a * Double(pm - tm)
                        let dl = Double(T.log(pm) - T.log(tm))
                        if dl != 0 { dm += c * (dl > 0 ? 1 : -1) / Double(pm) }
                        let active = re * re + im * im > eps
                        let dre = active ? T(dm) * re / pm : 0, dim = active ? T(dm) * im / pm : 0
                        let half: T = (k == 0 || k == n / 2) ? 1 : 0.5
                        bins[2 * k] = dre * half
                        bins[2 * k + 1] = (k == 0 || k == n / 2) ? 0 : dim * half
                    }
                    bins.withUnsafeMutableBufferPointer { bb in frame.withUnsafeMutableBufferPointer { T.irfft(n, bb.baseAddress!, $0.baseAddress!) } }
                    let start = f * r.hop - p
                    for t in 0..<n { g[reflect(start + t, len)] += frame[t] * r.window[t] }
                }
            }
        }
        return dx
    }
}
