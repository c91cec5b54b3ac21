import Foundation
import TimbreDSP
import TimbreTensor

/// A windowed STFT of one signal (periodic Hann window of length n) and the adjoint that spectral
/// losses need: given dL/d(re, im) per bin, the gradient with respect to the signal (an
/// unnormalised inverse real FFT, halved for the bins that stand for two conjugate bins, times
/// the window, overlap-added and, when centred, folded back through the reflect padding).
/// `centred` (the losses, torch's `center=True`): frames start at f·hop − n/2 over a
/// reflect-padded signal; otherwise (the discriminator, `center=False`) at f·hop, inside it.
public struct SpectralFrames<T: FFTScalar> {
    public let n: Int, hop: Int, centred: Bool
    public let window: [T]
    public var bins: Int { n / 2 + 1 }

    public init(n: Int, hop: Int, centred: Bool = true) {
        self.n = n; self.hop = hop; self.centred = centred
        window = (0..<n).map { T(0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(n))) }  // periodic Hann
    }

    var pad: Int { centred ? n / 2 : 0 }

    /// Frames of a signal of length `len` (none when a non-centred frame does not fit).
    public func frames(_ len: Int) -> Int { len + 2 * pad < n ? 0 : 1 + (len + 2 * pad - n) / hop }

    /// `[F, K, 2]` spectrum of `x` (length `len`).
    public func forward(_ x: UnsafePointer<T>, _ len: Int, into out: UnsafeMutablePointer<T>) {
        var buf = [T](repeating: 0, count: n)
        let p = pad, F = frames(len), K = bins
        buf.withUnsafeMutableBufferPointer { b in
            for f in 0..<F {
                let start = f * hop - p
                if start >= 0 && start + n <= len {
                    for k in 0..<n { b[k] = x[start + k] * window[k] }
                } else {
                    for k in 0..<n { b[k] = x[reflectIndex(start + k, len)] * window[k] }
                }
                T.rfft(n, b.baseAddress!, out + f * K * 2)
            }
        }
    }

    /// Adds to `g` (length `len`) the gradient of a frame's bins: `grad(f, k)` returns
    /// dL/d(re, im) of bin k of frame f.
    public func adjoint(_ len: Int, into g: UnsafeMutablePointer<T>, grad: (Int, Int) -> (T, T)) {
        let K = bins, p = pad
        var b = [T](repeating: 0, count: K * 2), frame = [T](repeating: 0, count: n)
        for f in 0..<frames(len) {
            for k in 0..<K {
                let (dre, dim) = grad(f, k)
                let edge = k == 0 || k == n / 2
                b[2 * k] = edge ? dre : dre * 0.5
                b[2 * k + 1] = edge ? 0 : dim * 0.5
            }
            b.withUnsafeMutableBufferPointer { bb in frame.withUnsafeMutableBufferPointer { T.irfft(n, bb.baseAddress!, $0.baseAddress!) } }
            let start = f * hop - p
            if start >= 0 && start + n <= len {
                for t in 0..<n { g[start + t] += frame[t] * window[t] }
            } else {
                for t in 0..<n { g[reflectIndex(start + t, len)] += frame[t] * window[t] }
            }
        }
    }
}

/// The DAC mel loss / distance (docs/design.md §6, `conf/base.yml`): for window w in 32…2048 (hop w/4)
/// with n_mels 5…320, Slaney mel filterbank (librosa, 0 to sr/2) on the STFT magnitude (power 1),
/// `mean |log10(max(mel̂, 1e-5)) − log10(max(mel, 1e-5))|`, summed over the seven scales.
/// As a metric it is the DAC mel distance; as a loss it has a backward pass (zero where the
/// clamp is active).
public final class MelLoss<T: FFTScalar> {
    public let windows: [Int], nMels: [Int], sampleRate: Int
    let clamp: T = 1e-5
    var cache: [(ops: SpectralFrames<T>, fb: [T], nm: Int, spec: Tensor<T>, mag: Tensor<T>, mel: Tensor<T>, tmel: Tensor<T>)] = []
    var shape: [Int] = []
    var dx = Workspace<T>()
    /// Per-worker scratch: `[workers, 3·F·K]` (largest resolution), for the target's spectrum and
    /// magnitudes in forward and dmag, dmel in backward.
    var scratch = Workspace<T>()

    public init(sampleRate: Int, windows: [Int] = [32, 64, 128, 256, 512, 1024, 2048], nMels: [Int] = [5, 10, 20, 40, 80, 160, 320]) {
        precondition(windows.count == nMels.count)
        self.sampleRate = sampleRate; self.windows = windows; self.nMels = nMels
    }

    /// Filterbanks per resolution, built once.
    lazy var filterbanks: [[T]] = zip(windows, nMels).map { w, nm in Mel.filterbank(sampleRate: sampleRate, nFFT: w, nMels: nm).map { T($0) } }

    /// Scratch elements one worker needs for signals of `len` samples: the largest resolution's
    /// target spectrum and magnitudes (3·F·K) in forward, dmag and dmel (F·(K + n_mels)) in backward.
    func workSize(_ len: Int) -> Int {
        cache.map { c in c.ops.frames(len) * max(3 * c.ops.bins, c.ops.bins + c.nm) }.max() ?? 0
    }

    /// The loss. Examples are spread over the cores (each on single-threaded BLAS, writing only
    /// its own slices); buffers are kept while the shape stays the same.
    public func forward(_ pred: Tensor<T>, _ target: Tensor<T>) -> Double {
        precondition(pred.shape == target.shape && pred.count > 0, "MelLoss: prediction \(pred.shape) and target \(target.shape) must match")
        let B = pred.shape[0], len = pred.count / B
        if pred.shape != shape || cache.count != windows.count {
            cache = zip(zip(windows, nMels), filterbanks).map { wn, fb in
                let (w, nm) = wn
                let ops = SpectralFrames<T>(n: w, hop: w / 4)
                let F = ops.frames(len), K = ops.bins
                return (ops, fb, nm, Tensor(zeros: [B, F, K, 2]), Tensor(zeros: [B, F, K]), Tensor(zeros: [B, F, nm]), Tensor(zeros: [B, F, nm]))
            }
        }
        shape = pred.shape
        let R = cache.count, cs = cache, clamp = self.clamp
        let per = workSize(len), work = scratch.get([Parallel.workers, per])
        var partial = [Double](repeating: 0, count: B * R)  // Σ |Δlog10 mel| per (example, resolution)
        partial.withUnsafeMutableBufferPointer { pb in
            let ps = (pred.data, target.data, pb.baseAddress!, work.data)
            BLAS.singleThreaded {
                Parallel.items(B) { b, w in
                    let (pred, target, part, work) = ps
                    for (ri, c) in cs.enumerated() {
                        let F = c.ops.frames(len), K = c.ops.bins
                        let tspec = work + w * per, tmag = tspec + F * K * 2
                        c.ops.forward(pred + b * len, len, into: c.spec.data + b * F * K * 2)
                        c.ops.forward(target + b * len, len, into: tspec)
                        for i in 0..<(F * K) {
                            let s = c.spec.data + (b * F * K + i) * 2
                            c.mag[b * F * K + i] = (s[0] * s[0] + s[1] * s[1]).squareRoot()
                            tmag[i] = (tspec[2 * i] * tspec[2 * i] + tspec[2 * i + 1] * tspec[2 * i + 1]).squareRoot()
                        }
                        // mel = mag · fbᵀ for prediction and target: [F, K] × [K, nm].
                        c.fb.withUnsafeBufferPointer { fb in
                            T.gemm(transA: false, transB: true, m: F, n: c.nm, k: K, alpha: 1, a: c.mag.data + b * F * K, lda: K,
                                   b: fb.baseAddress!, ldb: K, beta: 0, c: c.mel.data + b * F * c.nm, ldc: c.nm)
                            T.gemm(transA: false, transB: true, m: F, n: c.nm, k: K, alpha: 1, a: tmag, lda: K,
                                   b: fb.baseAddress!, ldb: K, beta: 0, c: c.tmel.data + b * F * c.nm, ldc: c.nm)
                        }
                        var l1 = 0.0
                        for i in (b * F * c.nm)..<((b + 1) * F * c.nm) {
                            l1 += abs(Double(T.log(max(c.mel[i], clamp)) - T.log(max(c.tmel[i], clamp)))) / log(10.0)
                        }
                        part[b * R + ri] = l1
                    }
                }
            }
        }
        var total = 0.0
        for (ri, c) in cache.enumerated() {
            let l1 = (0..<B).reduce(0.0) { $0 + partial[$1 * R + ri] }
            total += l1 / Double(B * c.ops.frames(len) * c.nm)
        }
        return total
    }

    /// dL/d(prediction) for an upstream gradient `scale`; examples spread over the cores as in
    /// `forward`.
    public func backward(scale: Double = 1) -> Tensor<T> {
        let B = shape[0], len = shape.reduce(1, *) / B
        let dx = self.dx.get(shape, zero: true)
        let cs = cache, clamp = self.clamp
        let per = workSize(len), work = scratch.get([Parallel.workers, per])
        let gs = (dx.data, work.data)
        BLAS.singleThreaded {
            Parallel.items(B) { b, w in
                let g = gs.0 + b * len
                for c in cs {
                    let F = c.ops.frames(len), K = c.ops.bins, nm = c.nm
                    let coef = scale / (Double(B * F * nm) * log(10.0))
                    let dmag = gs.1 + w * per, dmel = dmag + F * K
                    for i in 0..<(F * nm) {
                        let a = c.mel[b * F * nm + i], t = c.tmel[b * F * nm + i]
                        dmel[i] = 0
                        guard a > clamp else { continue }
                        let d = T.log(a) - T.log(max(t, clamp))
                        if d != 0 { dmel[i] = T(coef) * (d > 0 ? 1 : -1) / a }
                    }
                    // dmag = dmel · fb: [F, nm] × [nm, K].
                    c.fb.withUnsafeBufferPointer { fb in
                        T.gemm(transA: false, transB: false, m: F, n: K, k: nm, alpha: 1, a: dmel, lda: nm,
                               b: fb.baseAddress!, ldb: K, beta: 0, c: dmag, ldc: K)
                    }
                    c.ops.adjoint(len, into: g) { f, k in
                        let i = (b * F + f) * K + k, s = c.spec.data + i * 2, mg = c.mag[i]
                        guard mg > 0 else { return (0, 0) }
                        return (dmag[f * K + k] * s[0] / mg, dmag[f * K + k] * s[1] / mg)
                    }
                }
            }
        }
        return dx
    }
}
