import Foundation
import TimbreAudio
import TimbreDSP

/// Prosody and level of one clip (docs/design.md §6): YIN F0 at 16 kHz, active-speech seconds, speaking
/// rate, EBU R 128 loudness and the RT60 estimate.
public struct ClipProsody: Sendable {
    /// F0 per 10 ms frame (0 = unvoiced).
    public var f0: [Double]
    public var medianF0: Double?
    public var activeSeconds: Double
    public var loudness: Double
    public var rt60: Double?

    public init(_ x: [Float], rate: Int) throws {
        f0 = try Self.f0Track(x, rate: rate)
        let m = YIN.median(f0)
        medianF0 = m > 0 ? m : nil
        activeSeconds = ActiveSpeech.seconds(x, sampleRate: rate)
        loudness = Loudness.integrated(x, sampleRate: rate)
        rt60 = Reverberation.rt60(x, sampleRate: rate)
    }

    /// The YIN F0 track of `x` (resampled to 16 kHz), 0 for unvoiced frames.
    public static func f0Track(_ x: [Float], rate: Int) throws -> [Double] {
        YIN.track(rate == 16_000 ? x : try Resampler.resample(x, from: rate, to: 16_000))
    }

    /// Script bytes per second of active speech (nil without speech).
    public func speakingRate(scriptBytes: Int) -> Double? { activeSeconds > 0 ? Double(scriptBytes) / activeSeconds : nil }

    /// RMS difference in Hz of two F0 tracks over frames voiced in both (nil if none), compared
    /// frame by frame over the shorter track.
    public static func f0RMSE(_ a: [Double], _ b: [Double]) -> Double? {
        var s = 0.0, n = 0
        for i in 0..<min(a.count, b.count) where a[i] > 0 && b[i] > 0 { s += (a[i] - b[i]) * (a[i] - b[i]); n += 1 }
        return n > 0 ? (s / Double(n)).squareRoot() : nil
    }
}

/// Whether a reconstruction keeps its original's pitch: YIN tracks of both (docs/design.md §6), the F0
/// RMSE over frames voiced in both, and `voiced_recall`, the share of the original's voiced
/// frames still voiced in the reconstruction, and `f0_within_5pct`, the share of the original's
/// voiced frames voiced in the reconstruction with an F0 within 5 % of the original's. The first two together catch both ways a codec loses
/// pitch: a voice rendered at a fixed pitch of its own (high RMSE) and voiced speech rendered
/// without periodicity (recall near 0, RMSE then over few frames or absent). Magnitude metrics
/// (mel, STFT, STOI) see neither well.
public enum PitchAgreement {
    /// Names of the values `measure` returns, in report order, and whether larger is better.
    public static let metrics: [(name: String, higherIsBetter: Bool)] = [("voiced_recall", true), ("f0_within_5pct", true), ("f0_rmse", false),
                                                                          ("f0_best_within_5pct", true), ("aperiodicity", false)]

    /// The values from two F0 tracks, over the shorter; a key is absent when it is undefined
    /// (no frame voiced in the reference, or none voiced in both).
    public static func compare(reference a: [Double], estimate b: [Double]) -> [String: Double] {
        var voiced = 0, kept = 0, close = 0
        for i in 0..<min(a.count, b.count) where a[i] > 0 {
            voiced += 1
            if b[i] > 0 { kept += 1; if abs(b[i] / a[i] - 1) <= 0.05 { close += 1 } }
        }
        var m: [String: Double] = [:]
        if voiced > 0 { m["voiced_recall"] = Double(kept) / Double(voiced); m["f0_within_5pct"] = Double(close) / Double(voiced) }
        m["f0_rmse"] = ClipProsody.f0RMSE(a, b)
        return m
    }

    /// The values for two signals at `sampleRate` (compared over the shorter).
    public static func measure(reference: [Float], estimate: [Float], sampleRate: Int) throws -> [String: Double] {
        try measure(referenceF0: ClipProsody.f0Track(reference, rate: sampleRate), estimate: estimate, sampleRate: sampleRate)
    }

    /// The values for an estimate against the reference's F0 track (`ClipProsody.f0Track`), for
    /// callers that score many estimates of one original; with the diagnosis of a hoarse voice
    /// (`hoarseness`).
    public static func measure(referenceF0: [Double], estimate: [Float], sampleRate: Int) throws -> [String: Double] {
        let x16 = sampleRate == 16_000 ? estimate : try Resampler.resample(estimate, from: sampleRate, to: 16_000)
        let frames = YIN.analyse(x16)
        return compare(reference: referenceF0, estimate: frames.map(\.f0)).merging(hoarseness(reference: referenceF0, frames: frames)) { a, _ in a }
    }

    /// Over the reference's voiced frames, whatever YIN's threshold says of the estimate:
    /// `f0_best_within_5pct`, the share whose best period (`YIN.Frame.bestF0`) is within 5 % of
    /// the reference's F0, and `aperiodicity`, the median of the estimate's aperiodicity there.
    /// A reconstruction that has the right pitch but too much noise to pass the threshold (a
    /// hoarse voice) scores high on the first and above 0.1 on the second.
    public static func hoarseness(reference a: [Double], frames b: [YIN.Frame]) -> [String: Double] {
        var n = 0, close = 0, ap: [Double] = []
        for i in 0..<min(a.count, b.count) where a[i] > 0 {
            n += 1
            if b[i].bestF0 > 0 && abs(b[i].bestF0 / a[i] - 1) <= 0.05 { close += 1 }
            ap.append(b[i].aperiodicity)
        }
        guard n > 0 else { return [:] }
        ap.sort()
        return ["f0_best_within_5pct": Double(close) / Double(n), "aperiodicity": ap[ap.count / 2]]
    }
}

/// Reverberation time from running speech (docs/design.md §6): at each offset of speech — the last
/// 10 ms frame of a run of at least 10 active frames (within 20 dB of the clip's loudest frame)
/// followed by at least 15 frames more than 20 dB down — the energy from the offset frame while
/// it keeps falling (until a frame more than 3 dB above the one before, the next active frame,
/// or 1 s) is Schroeder-integrated backwards; a least-squares line
/// through the decay curve between −5 and −25 dB gives the slope, RT60 = −60 / slope. The clip's
/// estimate is the median over offsets whose decay reaches −25 dB within the window; nil if none.
public enum Reverberation {
    public static let frameSeconds = 0.01, activeDB = 20.0, minRun = 10, minGap = 15, maxWindow = 1.0
    static let riseFactor = pow(10, 0.3)

    /// Start samples of the decay windows and their lengths.
    public static func offsets(_ x: [Float], sampleRate: Int) -> [(start: Int, length: Int)] {
        let n = Int(Double(sampleRate) * frameSeconds), frames = x.count / max(n, 1)
        guard frames > 0 else { return [] }
        var e = [Double](repeating: 0, count: frames)
        for f in 0..<frames { var s = 0.0; for j in (f * n)..<((f + 1) * n) { s += Double(x[j]) * Double(x[j]) }; e[f] = s / Double(n) }
        guard let peak = e.max(), peak > 0 else { return [] }
        let floor = peak * pow(10, -activeDB / 10)
        let active = e.map { $0 >= floor }
        var out: [(Int, Int)] = []
        var f = 0
        while f < frames {
            guard active[f] else { f += 1; continue }
            var end = f
            while end + 1 < frames && active[end + 1] { end += 1 }
            var next = end + 1
            while next < frames && !active[next] { next += 1 }
            if end - f + 1 >= minRun && next - end - 1 >= minGap {
                // The free decay: until the frame energy rises again by more than 3 dB.
                var stop = end + 1
                while stop < next && e[stop] <= e[stop - 1] * riseFactor { stop += 1 }
                let start = end * n
                let length = min(stop * n, x.count, start + Int(maxWindow * Double(sampleRate))) - start
                out.append((start, length))
            }
            f = next
        }
        return out
    }

    /// RT60 in seconds of one decay window (nil if its decay does not reach −25 dB).
    public static func decayRT60(_ x: ArraySlice<Float>, sampleRate: Int) -> Double? {
        let v = Array(x)
        var edc = [Double](repeating: 0, count: v.count)
        var acc = 0.0
        for i in stride(from: v.count - 1, through: 0, by: -1) { acc += Double(v[i]) * Double(v[i]); edc[i] = acc }
        guard acc > 0 else { return nil }
        var ts: [Double] = [], ds: [Double] = [], reached = false
        for i in 0..<v.count {
            let db = 10 * log10(max(edc[i] / acc, 1e-300))
            if db < -25 { reached = true; break }
            if db <= -5 { ts.append(Double(i) / Double(sampleRate)); ds.append(db) }
        }
        guard reached, ts.count >= 2 else { return nil }
        let mt = ts.reduce(0, +) / Double(ts.count), md = ds.reduce(0, +) / Double(ds.count)
        var sxy = 0.0, sxx = 0.0
        for i in ts.indices { sxy += (ts[i] - mt) * (ds[i] - md); sxx += (ts[i] - mt) * (ts[i] - mt) }
        guard sxx > 0 else { return nil }
        let slope = sxy / sxx
        return slope < 0 ? -60 / slope : nil
    }

    public static func rt60(_ x: [Float], sampleRate: Int) -> Double? {
        let est = offsets(x, sampleRate: sampleRate).compactMap { decayRT60(x[$0.start..<($0.start + $0.length)], sampleRate: sampleRate) }
        guard !est.isEmpty else { return nil }
        let s = est.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
