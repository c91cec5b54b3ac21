import Foundation
import TimbreDSP

/// STOI (Taal et al. 2011) and ESTOI (Jensen & Taal 2016) with pystoi 0.4's conventions (docs/design.md §6):
/// resampled to 10 kHz by pystoi's Octave-compatible polyphase resampler, silent frames (more than
/// 40 dB below the clean signal's loudest 256-sample frame) removed from both by overlap-add,
/// 256-sample Hann frames (hop 128, FFT 512), 15 one-third-octave bands from 150 Hz, 30-frame
/// segments, clipping at β = −15 dB (STOI only). Computed in double precision.
///
/// Where pystoi returns 1e-5 with a warning (fewer than 30 frames after silence removal), this
/// returns nil, so a caller can count and report such clips instead of averaging a fake score.
public enum STOI {
    public static let sampleRate = 10_000
    static let frame = 256, nfft = 512, bands = 15, minFreq = 150.0, segment = 30
    static let beta = -15.0, dynamicRange = 40.0
    static let eps = Double.ulpOfOne

    /// STOI (extended: false) or ESTOI (extended: true) of `processed` against `clean`, both at
    /// `rate` Hz and of the same length.
    public static func score(clean: [Float], processed: [Float], rate: Int, extended: Bool = false) -> Double? {
        let (xt, yt) = envelopes(clean: clean, processed: processed, rate: rate)
        return score(xt, yt, extended: extended)
    }

    /// (STOI, ESTOI), sharing the resampling and envelopes.
    public static func scores(clean: [Float], processed: [Float], rate: Int) -> (stoi: Double?, estoi: Double?) {
        let (xt, yt) = envelopes(clean: clean, processed: processed, rate: rate)
        return (score(xt, yt, extended: false), score(xt, yt, extended: true))
    }

    static func envelopes(clean: [Float], processed: [Float], rate: Int) -> ([Double], [Double]) {
        precondition(clean.count == processed.count, "STOI needs equal lengths (\(clean.count) vs \(processed.count))")
        var x = clean.map(Double.init), y = processed.map(Double.init)
        if rate != sampleRate {
            let r = resampler(from: rate)
            x = r.apply(x); y = r.apply(y)
        }
        (x, y) = removeSilentFrames(x, y)
        return (thirdOctaveEnvelopes(x), thirdOctaveEnvelopes(y))
    }

    static let resamplers = ResamplerCache()
    static func resampler(from rate: Int) -> OctaveResampler { resamplers.get(rate) }

    static func score(_ xt: [Double], _ yt: [Double], extended: Bool) -> Double? {
        let frames = xt.count / bands
        guard frames >= segment else { return nil }
        // xt, yt: [frame][band] row-major.
        let J = bands, N = segment, segments = frames - N + 1
        var total = 0.0
        var xs = [Double](repeating: 0, count: J * N), ys = xs
        for m in 0..<segments {
            // Segment as [band][frame].
            for j in 0..<J { for n in 0..<N { xs[j * N + n] = xt[(m + n) * J + j]; ys[j * N + n] = yt[(m + n) * J + j] } }
            total += extended ? estoiSegment(&xs, &ys) : stoiSegment(&xs, &ys)
        }
        return extended ? total / Double(N) / Double(segments) : total / Double(J * segments)
    }

    /// Sum over bands of the correlation of the clipped, normalised processed envelope with the clean one.
    static func stoiSegment(_ x: inout [Double], _ y: inout [Double]) -> Double {
        let N = segment, clip = pow(10, -beta / 20)
        var sum = 0.0
        for j in 0..<bands {
            let r = j * N..<(j + 1) * N
            let nx = norm(x[r]), ny = norm(y[r])
            let c = nx / (ny + eps)
            for i in r { y[i] = min(y[i] * c, x[i] * (1 + clip)) }
            center(&x, r); center(&y, r)
            let ax = norm(x[r]) + eps, ay = norm(y[r]) + eps
            for i in r { sum += (x[i] / ax) * (y[i] / ay) }
        }
        return sum
    }

    /// Sum of products of the row- then column-normalised segments (ESTOI's spectral correlation).
    static func estoiSegment(_ x: inout [Double], _ y: inout [Double]) -> Double {
        rowColumnNormalise(&x); rowColumnNormalise(&y)
        var sum = 0.0
        for i in 0..<x.count { sum += x[i] * y[i] }
        return sum
    }

    static func rowColumnNormalise(_ s: inout [Double]) {
        let J = bands, N = segment
        for j in 0..<J {
            let r = j * N..<(j + 1) * N
            center(&s, r)
            let inv = 1 / norm(s[r])
            for i in r { s[i] *= inv }
        }
        for n in 0..<N {
            var mean = 0.0
            for j in 0..<J { mean += s[j * N + n] }
            mean /= Double(J)
            var ss = 0.0
            for j in 0..<J { s[j * N + n] -= mean; ss += s[j * N + n] * s[j * N + n] }
            let inv = 1 / ss.squareRoot()
            for j in 0..<J { s[j * N + n] *= inv }
        }
    }

    static func norm(_ v: ArraySlice<Double>) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
    static func center(_ v: inout [Double], _ r: Range<Int>) {
        let mean = v[r].reduce(0, +) / Double(r.count)
        for i in r { v[i] -= mean }
    }

    /// numpy's `hanning(n + 2)[1:-1]` (MATLAB's `hanning(n)`).
    static let window: [Double] = (0..<frame).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0 + 1) / Double(frame + 1)) }

    /// Frame starts as pystoi computes them: `range(0, len(x) - framelen, hop)`.
    static func frameStarts(_ n: Int, hop: Int) -> StrideTo<Int> { stride(from: 0, to: n - frame, by: hop) }

    /// Drops frames of both signals whose clean energy is more than 40 dB below the loudest and
    /// overlap-adds the windowed frames that remain (hop 128).
    static func removeSilentFrames(_ x: [Double], _ y: [Double]) -> ([Double], [Double]) {
        let hop = frame / 2
        let starts = Array(frameStarts(x.count, hop: hop))
        let energies = starts.map { s -> Double in
            var e = 0.0
            for i in 0..<frame { let v = window[i] * x[s + i]; e += v * v }
            return 20 * log10(e.squareRoot() + eps)
        }
        guard let top = energies.max() else { return ([], []) }
        let kept = starts.indices.filter { top - dynamicRange - energies[$0] < 0 }
        guard !kept.isEmpty else { return ([], []) }
        let length = (kept.count - 1) * hop + frame
        var xo = [Double](repeating: 0, count: length), yo = xo
        for (k, f) in kept.enumerated() {
            let s = starts[f], o = k * hop
            for i in 0..<frame { xo[o + i] += window[i] * x[s + i]; yo[o + i] += window[i] * y[s + i] }
        }
        return (xo, yo)
    }

    /// One-third-octave band matrix (pystoi `thirdoct`): band i covers FFT bins [lo, hi) where lo
    /// and hi are the bins nearest its edges.
    static let bandBins: [(Int, Int)] = {
        let nb = nfft / 2 + 1
        let f = (0..<nb).map { Double(sampleRate) * Double($0) / Double(nfft) }
        func nearest(_ v: Double) -> Int {
            var best = 0
            for i in 0..<nb where (f[i] - v) * (f[i] - v) < (f[best] - v) * (f[best] - v) { best = i }
            return best
        }
        return (0..<bands).map { k in
            (nearest(minFreq * pow(2, (2 * Double(k) - 1) / 6)), nearest(minFreq * pow(2, (2 * Double(k) + 1) / 6)))
        }
    }()

    /// Per frame (hop 128, no padding) the 15 band envelopes √Σ|X|², as [frame][band].
    static func thirdOctaveEnvelopes(_ x: [Double]) -> [Double] {
        let starts = Array(frameStarts(x.count, hop: frame / 2))
        var out = [Double](repeating: 0, count: starts.count * bands)
        var buf = [Double](repeating: 0, count: nfft), spec = [Double](repeating: 0, count: nfft + 2)
        var power = [Double](repeating: 0, count: nfft / 2 + 1)
        for (t, s) in starts.enumerated() {
            for i in 0..<nfft { buf[i] = i < frame ? window[i] * x[s + i] : 0 }
            Double.rfft(nfft, &buf, &spec)
            for k in 0...nfft / 2 { power[k] = spec[2 * k] * spec[2 * k] + spec[2 * k + 1] * spec[2 * k + 1] }
            for (b, (lo, hi)) in bandBins.enumerated() {
                var e = 0.0
                for k in lo..<max(lo, hi) { e += power[k] }
                out[t * bands + b] = e.squareRoot()
            }
        }
        return out
    }
}

/// pystoi's `resample_oct` (a port of Octave's `resample`): a Kaiser-windowed sinc low-pass
/// (60 dB rejection, roll-off a tenth of the cut-off), normalised to unit sum, applied by
/// `scipy.signal.resample_poly` with zero padding — output sample j is centred on input position
/// j·down/up.
public struct OctaveResampler: Sendable {
    public let up: Int, down: Int
    let h: [Double]
    let half: Int
    /// Polyphase table: phase p holds h[p], h[p + up], h[p + 2·up], … reversed, so each output
    /// is one contiguous dot product.
    let phases: [[Double]]

    public init(up: Int, down: Int) {
        var g = up, b = down
        while b != 0 { (g, b) = (b, g % b) }
        let p = up / g, q = down / g
        self.up = p; self.down = q
        let cutoff = 1 / (2 * Double(max(p, q))), rollOff = cutoff / 10
        let rejection = 60.0
        let L = Int(((rejection - 8) / (28.714 * rollOff)).rounded(.up))
        let beta = 0.1102 * (rejection - 8.7)
        let i0b = besselI0(beta)
        var h = (-L...L).map { t -> Double in
            let a = 2 * cutoff * Double(t)
            let sinc = a == 0 ? 1 : sin(Double.pi * a) / (Double.pi * a)
            let r = Double(t + L) * 2 / Double(2 * L) - 1
            return besselI0(beta * (1 - r * r).squareRoot()) / i0b * sinc
        }
        let sum = h.reduce(0, +)
        for i in h.indices { h[i] = h[i] / sum * Double(p) }
        self.h = h
        half = L
        phases = (0..<p).map { ph in Array(stride(from: ph, to: h.count, by: p).map { h[$0] }.reversed()) }
    }

    public func apply(_ x: [Double]) -> [Double] {
        let n = x.count * up
        let outCount = n / down + (n % down == 0 ? 0 : 1)
        var y = [Double](repeating: 0, count: outCount)
        for j in 0..<outCount {
            let c = j * down  // centre, in upsampled samples
            // input samples i with |c − i·up| ≤ half
            let lo = max(0, (c - half + up - 1) / up), hi = min(x.count - 1, (c + half) / up)
            guard lo <= hi else { continue }
            // h[half + c − i·up] for i in lo...hi: phase (half + c) mod up, entries m = (half + c − ph)/up − i,
            // which in the reversed table are at index (count − 1 − m), increasing with i.
            let ph = (half + c) % up, table = phases[ph]
            let m0 = (half + c - ph) / up
            var k = table.count - 1 - (m0 - lo)
            var s = 0.0
            table.withUnsafeBufferPointer { t in x.withUnsafeBufferPointer { xb in
                for i in lo...hi { s += t[k] * xb[i]; k += 1 }
            } }
            y[j] = s
        }
        return y
    }
}

/// Modified Bessel function of the first kind, order 0 (power series; converges for all x).
func besselI0(_ x: Double) -> Double {
    var sum = 1.0, term = 1.0, k = 1.0
    let q = x * x / 4
    while true {
        term *= q / (k * k)
        sum += term
        if term < sum * 1e-17 { break }
        k += 1
    }
    return sum
}

/// Resamplers by input rate (the filter design is the slow part), shared across threads.
final class ResamplerCache: @unchecked Sendable {
    var byRate: [Int: OctaveResampler] = [:]
    let lock = NSLock()
    func get(_ rate: Int) -> OctaveResampler {
        lock.lock(); defer { lock.unlock() }
        if let r = byRate[rate] { return r }
        let r = OctaveResampler(up: STOI.sampleRate, down: rate)
        byRate[rate] = r
        return r
    }
}
