import Foundation
import TimbreDSP
import TimbreLosses
import TimbreTensor

/// Reconstruction metrics of one (reference, estimate) pair (docs/design.md §6).
public enum Reconstruction {
    /// Names of the values `measure` returns, in report order, and whether larger is better.
    public static let metrics: [(name: String, higherIsBetter: Bool)] = [
        ("si_sdr", true), ("mel", false), ("stft", false), ("mrstft", false), ("stoi", true), ("estoi", true),
    ]

    /// The DAC STFT distance: for windows 2048 and 512 (hop w/4, centred, reflect padding,
    /// periodic Hann), `mean|log10(max(|X̂|,1e-5)²) − log10(max(|X|,1e-5)²)| + mean||X̂| − |X||`,
    /// summed over the windows.
    public static func stftDistance(reference: [Float], estimate: [Float]) -> Double {
        precondition(reference.count == estimate.count, "STFT distance needs equal lengths")
        var total = 0.0
        for w in [2048, 512] {
            let st = STFT(nFFT: w, hop: w / 4)
            let a = st.magnitude(estimate), b = st.magnitude(reference)
            var logL1 = 0.0, magL1 = 0.0
            for i in 0..<a.count {
                let x = Double(a[i]), y = Double(b[i])
                logL1 += abs(2 * log10(max(x, 1e-5)) - 2 * log10(max(y, 1e-5)))
                magL1 += abs(x - y)
            }
            total += (logL1 + magL1) / Double(a.count)
        }
        return total
    }

    /// SI-SDR (dB), DAC mel distance, DAC STFT distance, MR-STFT distance, STOI and ESTOI of
    /// `estimate` against `reference` (same length, `sampleRate` Hz). STOI/ESTOI are absent when
    /// the clip has fewer than 30 frames of speech (pystoi would return 1e-5).
    public static func measure(reference: [Float], estimate: [Float], sampleRate: Int) -> [String: Double] {
        precondition(reference.count == estimate.count, "reconstruction metrics need equal lengths (\(reference.count) vs \(estimate.count))")
        let r = Tensor<Float>(reference, shape: [1, 1, reference.count]), e = Tensor<Float>(estimate, shape: [1, 1, estimate.count])
        var m: [String: Double] = [
            "si_sdr": siSDR(reference: reference, estimate: estimate),
            "mel": MelLoss<Float>(sampleRate: sampleRate).forward(e, r),
            "stft": stftDistance(reference: reference, estimate: estimate),
            "mrstft": MRSTFTLoss<Float>().forward(e, r).loss,
        ]
        let (stoi, estoi) = STOI.scores(clean: reference, processed: estimate, rate: sampleRate)
        m["stoi"] = stoi; m["estoi"] = estoi
        return m
    }

    /// `measure` and the pitch agreement (`PitchAgreement`) with the reference's F0 track
    /// (`ClipProsody.f0Track`, passed in so a caller can keep it across checkpoints): the per-clip
    /// scores of `timbre eval`'s VAE suite and of training's held-out check.
    public static func measure(reference: [Float], estimate: [Float], referenceF0: [Double], sampleRate: Int) throws -> [String: Double] {
        try measure(reference: reference, estimate: estimate, sampleRate: sampleRate)
            .merging(PitchAgreement.measure(referenceF0: referenceF0, estimate: estimate, sampleRate: sampleRate)) { a, _ in a }
    }
}
