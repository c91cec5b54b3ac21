import Foundation

/// The pitch track a pitch-carrying VAE conditions its decoder on (docs/pitch.md, "The pitch
/// track"): YIN F0 at given window centres, octave jumps removed by a median filter, and a
/// log-F0 curve that is continuous through unvoiced runs.
///
/// - `f0[j]`: YIN (settings of `YIN.Settings`, 16 kHz) on the 40 ms window centred at
///   `centres16k[j]` (start `round(centre) − window/2`; zeros outside the signal); 0 = unvoiced.
/// - Median: each voiced value becomes the median of the voiced values among the 5 centred on it
///   (an even count takes the mean of the middle two); unvoiced values stay unvoiced.
/// - `lf0 = ln F0` where voiced; through an unvoiced run linear in the index between the voiced
///   neighbours, held flat before the first and after the last voiced value; `ln 100` when
///   nothing is voiced. `voiced` is 1 or 0.
public enum PitchTrack {
    public static let medianWidth = 5
    public static let unvoicedF0 = 100.0

    /// Raw YIN values at window centres given in samples of `x16k` (a 16 kHz signal).
    public static func yin(_ x16k: [Float], centres: [Double]) -> [Double] {
        let s = YIN.Settings()
        return YIN.track(x16k, starts: centres.map { Int($0.rounded()) - s.window / 2 }, s)
    }

    /// The median-filtered F0 values (0 = unvoiced).
    public static func medianFiltered(_ f0: [Double]) -> [Double] {
        let h = medianWidth / 2
        return f0.indices.map { j in
            guard f0[j] > 0 else { return 0 }
            let v = f0[max(0, j - h)...min(f0.count - 1, j + h)].filter { $0 > 0 }.sorted()
            return v.count % 2 == 1 ? v[v.count / 2] : 0.5 * (v[v.count / 2 - 1] + v[v.count / 2])
        }
    }

    /// (lf0, voiced) from median-filtered F0 values.
    public static func logF0(_ f0: [Double]) -> (lf0: [Double], voiced: [Double]) {
        let voicedIdx = f0.indices.filter { f0[$0] > 0 }
        let voiced = f0.map { $0 > 0 ? 1.0 : 0.0 }
        guard let first = voicedIdx.first, let last = voicedIdx.last else {
            return ([Double](repeating: Foundation.log(unvoicedF0), count: f0.count), voiced)
        }
        var lf0 = [Double](repeating: 0, count: f0.count)
        for j in voicedIdx { lf0[j] = Foundation.log(f0[j]) }
        for j in 0..<first { lf0[j] = lf0[first] }
        for j in (last + 1)..<f0.count { lf0[j] = lf0[last] }
        var prev = first
        for j in voicedIdx.dropFirst() {
            if j > prev + 1 {
                let a = lf0[prev], b = lf0[j]
                for i in (prev + 1)..<j { lf0[i] = a + (b - a) * Double(i - prev) / Double(j - prev) }
            }
            prev = j
        }
        return (lf0, voiced)
    }

    /// The whole track from a 16 kHz signal and window centres in its samples.
    public static func track(_ x16k: [Float], centres: [Double]) -> (lf0: [Double], voiced: [Double]) {
        logF0(medianFiltered(yin(x16k, centres: centres)))
    }
}
