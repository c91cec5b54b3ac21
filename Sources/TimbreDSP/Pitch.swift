import Foundation
import TimbreTensor

/// F0 by YIN (de Cheveigné & Kawahara 2002) with docs/design.md §6's settings: the signal at 16 kHz,
/// 40 ms windows every 10 ms, f0 in [50, 600] Hz, absolute threshold 0.1.
///
/// Per frame: difference function d(τ) = Σ_{j<W} (x_j − x_{j+τ})², cumulative-mean-normalised
/// d′(τ) = d(τ)·τ / Σ_{k≤τ} d(k); the first τ in [sr/fmax, sr/fmin] with d′ < threshold, moved to
/// the local minimum that follows, refined by parabolic interpolation. A frame with no such τ
/// (or with negligible energy) is unvoiced (0).
public enum YIN {
    public struct Settings: Sendable {
        public var sampleRate = 16000, window = 640, hop = 160
        public var fmin = 50.0, fmax = 600.0, threshold = 0.1
        public init() {}
    }

    /// One window's analysis: `f0`, YIN's F0 (0 = unvoiced: no dip below the threshold, or
    /// negligible energy); `bestF0`, the best period regardless of the absolute threshold (YIN's
    /// search with the threshold set 0.1 above the window's smallest cumulative-mean-normalised
    /// difference in [sr/fmax, sr/fmin], so the first dip that comes close to the best wins, as
    /// YIN's first dip below 0.1 does, rather than the global minimum, which in noise often
    /// falls on twice the period); and `aperiodicity`, the normalised difference at that dip (0
    /// for a periodic signal, about 1 for noise). A silent window gives (0, 0, 1).
    public struct Frame: Sendable {
        public var f0: Double, bestF0: Double, aperiodicity: Double
    }

    /// F0 per frame in Hz (0 = unvoiced). `x` must be at `settings.sampleRate`.
    public static func track(_ x: [Float], _ s: Settings = Settings()) -> [Double] { analyse(x, s).map(\.f0) }

    /// Every frame's analysis (frames as `track`).
    public static func analyse(_ x: [Float], _ s: Settings = Settings()) -> [Frame] {
        let tauMax = Int(Double(s.sampleRate) / s.fmin)
        guard x.count >= s.window + tauMax + 1 else { return [] }
        let frames = (x.count - s.window - tauMax - 1) / s.hop + 1
        return x.withUnsafeBufferPointer { xb in
            var scratch = Scratch(s)
            return (0..<frames).map { f in estimate(xb.baseAddress! + f * s.hop, s, &scratch) }
        }
    }

    /// F0 of windows that start at `starts` (samples of `x`, which may lie before 0 or run past
    /// the end: the signal is zero outside `x`), 0 where unvoiced.
    public static func track(_ x: [Float], starts: [Int], _ s: Settings = Settings()) -> [Double] {
        let tauMax = Int(Double(s.sampleRate) / s.fmin), need = s.window + tauMax + 2
        guard let lo = starts.min(), let hi = starts.max() else { return [] }
        let left = max(0, -lo)
        var padded = [Float](repeating: 0, count: left + max(x.count, hi + need))
        for i in x.indices { padded[left + i] = x[i] }
        return padded.withUnsafeBufferPointer { xb in
            var scratch = Scratch(s)
            return starts.map { estimate(xb.baseAddress! + left + $0, s, &scratch).f0 }
        }
    }

    struct Scratch {
        var d: [Double], dn: [Double]
        init(_ s: Settings) {
            let n = Int(Double(s.sampleRate) / s.fmin) + 2
            d = [Double](repeating: 0, count: n); dn = d
        }
    }

    /// One window's analysis: `p` points at the window's first sample and `window + tauMax + 1`
    /// samples must be readable from it.
    static func estimate(_ p: UnsafePointer<Float>, _ s: Settings, _ scratch: inout Scratch) -> Frame {
        let tauMin = Int(Double(s.sampleRate) / s.fmax), tauMax = Int(Double(s.sampleRate) / s.fmin)
        let W = s.window
        let energy = Kernels.rowDot(p, p, W)
        if energy < 1e-7 * Float(W) { return Frame(f0: 0, bestF0: 0, aperiodicity: 1) }
        return scratch.d.withUnsafeMutableBufferPointer { d in
            scratch.dn.withUnsafeMutableBufferPointer { dn in
                // d(τ) = Σp² + Σq² − 2Σp·q with q = p shifted by τ: the window energy of q slides,
                // and the dot product is one vectorised pass per lag.
                let e0 = Double(energy)
                var eq = e0
                for tau in 1...(tauMax + 1) {
                    eq += Double(p[tau - 1 + W] * p[tau - 1 + W]) - Double(p[tau - 1] * p[tau - 1])
                    d[tau] = max(0, e0 + eq - 2 * Double(Kernels.rowDot(p, p + tau, W)))
                }
                // cumulative mean normalised difference
                var running = 0.0
                for tau in 1...(tauMax + 1) {
                    running += d[tau]
                    dn[tau] = running > 0 ? d[tau] * Double(tau) / running : 1
                }
                /// The first τ in range with dn below `limit`, moved to the local minimum that
                /// follows; its value and the parabolically refined lag.
                func dip(below limit: Double) -> (value: Double, lag: Double)? {
                    guard var tau = (tauMin...tauMax).first(where: { dn[$0] < limit }) else { return nil }
                    while tau + 1 <= tauMax && dn[tau + 1] < dn[tau] { tau += 1 }
                    var t = Double(tau)
                    if tau > 1 {
                        let a = dn[tau - 1], b = dn[tau], c = dn[tau + 1]
                        let den = a - 2 * b + c
                        if abs(den) > 1e-12 { t += 0.5 * (a - c) / den }
                    }
                    return (dn[tau], t)
                }
                let sr = Double(s.sampleRate)
                let voiced = dip(below: s.threshold)
                let best = dip(below: dn[tauMin...tauMax].min()! + s.threshold)!
                return Frame(f0: voiced.map { sr / $0.lag } ?? 0, bestF0: sr / best.lag, aperiodicity: best.value)
            }
        }
    }

    /// Median F0 over voiced frames (0 if none).
    public static func median(_ f0: [Double]) -> Double {
        let v = f0.filter { $0 > 0 }.sorted()
        guard !v.isEmpty else { return 0 }
        return v.count % 2 == 1 ? v[v.count / 2] : 0.5 * (v[v.count / 2 - 1] + v[v.count / 2])
    }
}

/// Active speech (docs/design.md §6): 10 ms frames whose energy is within 40 dB of the clip's loudest frame.
public enum ActiveSpeech {
    /// Seconds of active speech in `x` at `sampleRate`.
    public static func seconds(_ x: [Float], sampleRate: Int, rangeDB: Double = 40, frameSeconds: Double = 0.01) -> Double {
        let n = max(1, Int(Double(sampleRate) * frameSeconds))
        let frames = x.count / n
        guard frames > 0 else { return 0 }
        var e = [Double](repeating: 0, count: frames)
        for f in 0..<frames {
            var s: Float = 0
            for j in (f * n)..<((f + 1) * n) { s += x[j] * x[j] }
            e[f] = Double(s) / Double(n)
        }
        let peak = e.max() ?? 0
        guard peak > 0 else { return 0 }
        let floor = peak * Foundation.pow(10, -rangeDB / 10)
        return Double(e.filter { $0 >= floor && $0 > 0 }.count) * Double(n) / Double(sampleRate)
    }
}
