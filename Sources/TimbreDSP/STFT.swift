import CFFTW
import CFFTWDouble
import Foundation
import TimbreTensor

/// Real FFTs through FFTW, in single (training) and double precision (gradient checks). Plans are
/// made once per size under a lock (FFTW's planner is not thread-safe) with FFTW_ESTIMATE |
/// FFTW_UNALIGNED, so any buffer can be transformed, from any thread (plan execution with the
/// new-array functions is thread-safe).
///
/// Why FFTW rather than KissFFT: the multi-resolution STFT loss runs seven transform sizes over
/// every training batch; FFTW's codelets are several times faster for these power-of-two sizes.
public protocol FFTScalar: TensorScalar {
    /// Forward real FFT of size n: n reals → n/2+1 complex bins, interleaved (re, im).
    static func rfft(_ n: Int, _ x: UnsafeMutablePointer<Self>, _ out: UnsafeMutablePointer<Self>)
    /// Unnormalised inverse: n/2+1 bins (overwritten) → n reals (n × the signal).
    static func irfft(_ n: Int, _ bins: UnsafeMutablePointer<Self>, _ out: UnsafeMutablePointer<Self>)
}

final class PlanCache<P>: @unchecked Sendable {
    var plans: [Int: (P, P)] = [:]
    let lock = NSLock()
    func get(_ n: Int, make: () -> (P, P)) -> (P, P) {
        lock.lock(); defer { lock.unlock() }
        if let p = plans[n] { return p }
        let p = make()
        plans[n] = p
        return p
    }
}

let floatPlans = PlanCache<fftwf_plan>()
let doublePlans = PlanCache<fftw_plan>()
let fftwFlags = UInt32(FFTW_ESTIMATE) | UInt32(FFTW_UNALIGNED)

extension Float: FFTScalar {
    static func plans(_ n: Int) -> (fftwf_plan, fftwf_plan) {
        floatPlans.get(n) {
            let a = fftwf_alloc_real(n)!, c = fftwf_alloc_complex(n / 2 + 1)!
            defer { fftwf_free(a); fftwf_free(c) }
            return (fftwf_plan_dft_r2c_1d(Int32(n), a, c, fftwFlags), fftwf_plan_dft_c2r_1d(Int32(n), c, a, fftwFlags))
        }
    }
    public static func rfft(_ n: Int, _ x: UnsafeMutablePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
        let p = plans(n).0
        out.withMemoryRebound(to: fftwf_complex.self, capacity: n / 2 + 1) { fftwf_execute_dft_r2c(p, x, $0) }
    }
    public static func irfft(_ n: Int, _ bins: UnsafeMutablePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
        let p = plans(n).1
        bins.withMemoryRebound(to: fftwf_complex.self, capacity: n / 2 + 1) { fftwf_execute_dft_c2r(p, $0, out) }
    }
}

extension Double: FFTScalar {
    static func plans(_ n: Int) -> (fftw_plan, fftw_plan) {
        doublePlans.get(n) {
            let a = fftw_alloc_real(n)!, c = fftw_alloc_complex(n / 2 + 1)!
            defer { fftw_free(a); fftw_free(c) }
            return (fftw_plan_dft_r2c_1d(Int32(n), a, c, fftwFlags), fftw_plan_dft_c2r_1d(Int32(n), c, a, fftwFlags))
        }
    }
    public static func rfft(_ n: Int, _ x: UnsafeMutablePointer<Double>, _ out: UnsafeMutablePointer<Double>) {
        let p = plans(n).0
        out.withMemoryRebound(to: fftw_complex.self, capacity: n / 2 + 1) { fftw_execute_dft_r2c(p, x, $0) }
    }
    public static func irfft(_ n: Int, _ bins: UnsafeMutablePointer<Double>, _ out: UnsafeMutablePointer<Double>) {
        let p = plans(n).1
        bins.withMemoryRebound(to: fftw_complex.self, capacity: n / 2 + 1) { fftw_execute_dft_c2r(p, $0, out) }
    }
}

public enum Window {
    /// Periodic Hann of length n: 0.5 − 0.5·cos(2πk/n) (torch.hann_window(n, periodic=True)).
    public static func hann(_ n: Int) -> [Float] { (0..<n).map { Float(0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(n))) } }
}

public enum Padding: Sendable { case reflect, constant }

/// Index into a signal of length n for position j under reflect padding (numpy/torch 'reflect':
/// the edge sample is not repeated), valid for any j.
@inlinable @inline(__always)
public func reflectIndex(_ j: Int, _ n: Int) -> Int {
    if j >= 0 && j < n { return j }
    if n == 1 { return 0 }
    let period = 2 * (n - 1)
    let m = ((j % period) + period) % period
    return m < n ? m : period - m
}

/// Short-time Fourier transform with torch.stft's conventions: frames of `nFFT` samples every
/// `hop`, a window of length `nFFT`, optional centring that pads nFFT/2 on both sides (reflect or
/// zeros), `1 + (length + 2·pad − nFFT)/hop` frames.
public struct STFT: Sendable {
    public var nFFT: Int, hop: Int
    public var window: [Float]
    public var center: Bool
    public var padding: Padding

    public init(nFFT: Int, hop: Int, window: [Float]? = nil, center: Bool = true, padding: Padding = .reflect) {
        self.nFFT = nFFT; self.hop = hop; self.window = window ?? Window.hann(nFFT); self.center = center; self.padding = padding
    }

    public var bins: Int { nFFT / 2 + 1 }
    public func frames(_ length: Int) -> Int {
        let padded = length + (center ? 2 * (nFFT / 2) : 0)
        return padded < nFFT ? 0 : 1 + (padded - nFFT) / hop
    }

    /// Sample `i` of the padded signal (index into `x` after centring).
    @inlinable func sample(_ x: UnsafePointer<Float>, _ n: Int, _ i: Int) -> Float {
        let p = center ? nFFT / 2 : 0
        let j = i - p
        if j >= 0 && j < n { return x[j] }
        switch padding {
        case .constant: return 0
        case .reflect: return x[reflectIndex(j, n)]
        }
    }

    /// Complex spectrogram `[frames, bins, 2]` (re, im) of a signal.
    public func complex(_ x: UnsafePointer<Float>, count n: Int, into out: UnsafeMutablePointer<Float>) {
        let F = frames(n)
        var buf = [Float](repeating: 0, count: nFFT)
        buf.withUnsafeMutableBufferPointer { b in
            for f in 0..<F {
                let start = f * hop
                let p = center ? nFFT / 2 : 0
                if start - p >= 0 && start - p + nFFT <= n {
                    let src = x + (start - p)
                    for k in 0..<nFFT { b[k] = src[k] * window[k] }
                } else {
                    for k in 0..<nFFT { b[k] = sample(x, n, start + k) * window[k] }
                }
                Float.rfft(nFFT, b.baseAddress!, out + f * bins * 2)
            }
        }
    }

    /// Magnitudes `[frames, bins]`: √max(re² + im², floor) (floor 0 gives the plain magnitude).
    public func magnitude(_ x: [Float], floor: Float = 0) -> [Float] {
        let F = frames(x.count)
        var c = [Float](repeating: 0, count: F * bins * 2)
        x.withUnsafeBufferPointer { xb in c.withUnsafeMutableBufferPointer { complex(xb.baseAddress!, count: x.count, into: $0.baseAddress!) } }
        var m = [Float](repeating: 0, count: F * bins)
        for i in 0..<(F * bins) {
            let re = c[2 * i], im = c[2 * i + 1]
            m[i] = max(re * re + im * im, floor).squareRoot()
        }
        return m
    }

    /// Inverse STFT by windowed overlap-add, divided by the summed squared window (torch.istft);
    /// `length` samples are returned (the centring padding removed).
    public func inverse(_ spec: [Float], frames F: Int, length: Int) -> [Float] {
        let p = center ? nFFT / 2 : 0
        let total = nFFT + hop * (F - 1)
        var y = [Float](repeating: 0, count: total), wsum = [Float](repeating: 0, count: total)
        var bins = [Float](repeating: 0, count: self.bins * 2), frame = [Float](repeating: 0, count: nFFT)
        let scale = 1 / Float(nFFT)
        for f in 0..<F {
            for k in 0..<(self.bins * 2) { bins[k] = spec[f * self.bins * 2 + k] }
            bins.withUnsafeMutableBufferPointer { b in frame.withUnsafeMutableBufferPointer { Float.irfft(nFFT, b.baseAddress!, $0.baseAddress!) } }
            for k in 0..<nFFT {
                y[f * hop + k] += frame[k] * scale * window[k]
                wsum[f * hop + k] += window[k] * window[k]
            }
        }
        return (0..<length).map { i in
            let j = i + p
            return j < total && wsum[j] > 1e-11 ? y[j] / wsum[j] : 0
        }
    }
}

/// Mel filterbanks with librosa's defaults (`htk=False`, `norm='slaney'`): Slaney's mel scale
/// (linear below 1 kHz, logarithmic above), triangular filters on the FFT bin frequencies, each
/// scaled by 2/(f_{i+2} − f_i) so it has unit area.
public enum Mel {
    public static func hzToMel(_ f: Double) -> Double {
        let fsp = 200.0 / 3, minLogHz = 1000.0, minLogMel = minLogHz / fsp, logstep = log(6.4) / 27
        return f >= minLogHz ? minLogMel + log(f / minLogHz) / logstep : f / fsp
    }
    public static func melToHz(_ m: Double) -> Double {
        let fsp = 200.0 / 3, minLogHz = 1000.0, minLogMel = minLogHz / fsp, logstep = log(6.4) / 27
        return m >= minLogMel ? minLogHz * exp(logstep * (m - minLogMel)) : fsp * m
    }

    /// `[nMels, nFFT/2 + 1]` weights (librosa.filters.mel(sr=, n_fft=, n_mels=, fmin=, fmax=)).
    public static func filterbank(sampleRate: Int, nFFT: Int, nMels: Int, fmin: Double = 0, fmax: Double? = nil) -> [Float] {
        let bins = nFFT / 2 + 1
        let fmax = fmax ?? Double(sampleRate) / 2
        let fft = (0..<bins).map { Double($0) * Double(sampleRate) / Double(nFFT) }
        let lo = hzToMel(fmin), hi = hzToMel(fmax)
        let pts = (0..<(nMels + 2)).map { melToHz(lo + (hi - lo) * Double($0) / Double(nMels + 1)) }
        var w = [Float](repeating: 0, count: nMels * bins)
        for i in 0..<nMels {
            let d0 = pts[i + 1] - pts[i], d1 = pts[i + 2] - pts[i + 1]
            let enorm = 2 / (pts[i + 2] - pts[i])
            for k in 0..<bins {
                let lower = (fft[k] - pts[i]) / d0, upper = (pts[i + 2] - fft[k]) / d1
                w[i * bins + k] = Float(max(0, min(lower, upper)) * enorm)
            }
        }
        return w
    }
}
