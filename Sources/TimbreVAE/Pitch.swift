import Foundation
import TimbreAudio
import TimbreDSP
import TimbreFormats
import TimbreTensor

/// A VAE recipe's `model.pitch` section (docs/pitch.md): `per_frame` r pitch values per latent
/// frame (default 4), the source's `harmonics` K (8), `amplitude` a (0.1) and `noise` σ (0.003).
/// `{}` turns pitch on with the defaults.
public struct PitchConfig: Codable, Sendable, Equatable {
    public var per_frame: Int?
    public var harmonics: Int?
    public var amplitude: Double?
    public var noise: Double?

    public init(per_frame: Int? = nil, harmonics: Int? = nil, amplitude: Double? = nil, noise: Double? = nil) {
        self.per_frame = per_frame; self.harmonics = harmonics; self.amplitude = amplitude; self.noise = noise
    }

    public var perFrame: Int { per_frame ?? 4 }
    public var harmonicCount: Int { harmonics ?? 8 }
    public var amplitudeValue: Double { amplitude ?? 0.1 }
    public var noiseStd: Double { noise ?? 0.003 }

    func validate(hop: Int) -> [String] {
        var p: [String] = []
        if perFrame < 1 || hop % perFrame != 0 { p.append("pitch.per_frame must be ≥ 1 and divide the hop \(hop), got \(perFrame)") }
        if harmonicCount < 1 || harmonicCount > 1024 { p.append("pitch.harmonics must be in 1…1024, got \(harmonicCount)") }
        if !amplitudeValue.isFinite || amplitudeValue < 0 || amplitudeValue > 10 { p.append("pitch.amplitude must be in [0, 10], got \(amplitudeValue)") }
        if !noiseStd.isFinite || noiseStd < 0 || noiseStd > 10 { p.append("pitch.noise must be in [0, 10], got \(noiseStd)") }
        return p
    }
}

/// The pitch channels of a latent: `r` log-F0 values then `r` voicing values per frame, stored
/// channel-major `[2r, F]` (channel c < r holds value `f·r + c` of the track, channel r + c its
/// voicing), computed from a 44.1 kHz waveform (`PitchTrack`, docs/pitch.md).
public enum PitchChannels {
    /// Channels `[2r, F]` for `x` at 44.1 kHz, F = ⌈len/hop⌉ (the signal is zero past its end).
    /// Value j is YIN's on the window centred at sample `(j + 0.5)·hop/r`.
    public static func compute(_ x: [Float], hop: Int, perFrame r: Int) throws -> [Float] {
        let F = (x.count + hop - 1) / hop, N = F * r
        let x16 = try Resampler.resample(x, from: Audio.modelRate, to: 16_000)
        let scale = 16_000 / Double(Audio.modelRate)
        let centres = (0..<N).map { (Double($0) + 0.5) * Double(hop) / Double(r) * scale }
        let (lf0, v) = PitchTrack.track(x16, centres: centres)
        var out = [Float](repeating: 0, count: 2 * r * F)
        for j in 0..<N {
            let (f, c) = (j / r, j % r)
            out[c * F + f] = Float(lf0[j]); out[(r + c) * F + f] = Float(v[j])
        }
        return out
    }

    /// Channels of every example of a batch `x [B, 1, T]` (T a multiple of the hop): `[B, 2r, T/hop]`.
    public static func compute(batch x: Tensor<Float>, hop: Int, perFrame r: Int) throws -> Tensor<Float> {
        let (B, T) = (x.shape[0], x.shape[2])
        let out = Tensor<Float>(zeros: [B, 2 * r, T / hop])
        for b in 0..<B {
            let ch = try compute(Array(UnsafeBufferPointer(start: x.data + b * T, count: T)), hop: hop, perFrame: r)
            (out.data + b * ch.count).update(from: ch, count: ch.count)
        }
        return out
    }

    /// Moves the pitch by `semitones`: `lf0 += ln 2 · s / 12` on the log-F0 channels.
    public static func shift(_ ch: inout [Float], frames F: Int, perFrame r: Int, semitones: Double) {
        let d = Float(Foundation.log(2.0) * semitones / 12)
        for i in 0..<(r * F) { ch[i] += d }
    }
}

/// The harmonic excitation a pitch-carrying decoder is given (docs/pitch.md, "The source"): from
/// the pitch channels `[2r, F]`, at the audio rate, F·hop samples:
/// `lf0` and `v` upsampled linearly (value j at sample `(j + 0.5)·hop/r`, held flat past the
/// ends), `F0 = clamp(exp(lf0), 40, 1000)`, `φ[n] = 2π Σ_{m≤n} F0[m]/44100`,
/// `e[n] = clamp(v[n], 0, 1) · a · Σ_{k=1…K, k·F0[n] < 22050} sin(k·φ[n])/k + σ·ξ[n]`,
/// ξ ~ N(0, 1) from `noise` (none when nil). The phase runs from the first sample, so a long
/// clip's source is rendered once and sliced for chunked decoding.
public enum PitchSource {
    public static func render(_ ch: UnsafePointer<Float>, frames F: Int, hop: Int, config: PitchConfig,
                              noise: inout RandomStream) -> [Float] {
        let r = config.perFrame, K = config.harmonicCount, a = config.amplitudeValue, sigma = config.noiseStd
        let N = F * r, T = F * hop
        let sr = Double(Audio.modelRate), nyquist = sr / 2
        func at(_ base: Int, _ j: Int) -> Double { Double(ch[(base + j % r) * F + j / r]) }  // value j of the lf0 (0) or v (r) track
        var out = [Float](repeating: 0, count: T)
        var phase = 0.0
        for n in 0..<T {
            let u = Double(n) * Double(r) / Double(hop) - 0.5
            let j0 = min(max(Int(u.rounded(.down)), 0), N - 1), j1 = min(j0 + 1, N - 1)
            let w = min(max(u - Double(j0), 0), 1)
            let lf0 = (1 - w) * at(0, j0) + w * at(0, j1), v = (1 - w) * at(r, j0) + w * at(r, j1)
            let f0 = min(max(Foundation.exp(lf0), 40), 1000)
            phase += 2 * Double.pi * f0 / sr
            if phase > 2 * Double.pi { phase -= 2 * Double.pi }
            var e = 0.0
            let vc = min(max(v, 0), 1)
            if vc > 0 {
                // sin(kφ) by the recurrence sin((k+1)φ) = 2cos φ·sin(kφ) − sin((k−1)φ): two
                // transcendentals a sample for any K (in Double, off by < 1e-13 at k = 1024)
                let c2 = 2 * Foundation.cos(phase)
                var previous = 0.0, current = Foundation.sin(phase), k = 1
                while k <= K && Double(k) * f0 < nyquist {
                    e += current / Double(k)
                    (previous, current) = (current, c2 * current - previous)
                    k += 1
                }
                e *= vc * a
            }
            out[n] = Float(e + sigma * noise.normal())
        }
        return out
    }

    /// Sources `[B, 1, F·hop]` for pitch channels `[B, 2r, F]`, example b drawing its noise from
    /// `noise(b)`.
    public static func render<T: TensorScalar>(batch ch: Tensor<Float>, hop: Int, config: PitchConfig,
                                               noise: (Int) -> RandomStream) -> Tensor<T> {
        let (B, C, F) = (ch.shape[0], ch.shape[1], ch.shape[2])
        let out = Tensor<T>(zeros: [B, 1, F * hop])
        for b in 0..<B {
            var rng = noise(b)
            let e = render(ch.data + b * C * F, frames: F, hop: hop, config: config, noise: &rng)
            for i in 0..<e.count { out[b * F * hop + i] = T(Double(e[i])) }
        }
        return out
    }
}
