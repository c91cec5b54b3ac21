import Foundation

/// Scale-invariant SDR in dB (docs/design.md §6): both signals made zero-mean, α = ⟨ŝ, s⟩/‖s‖²,
/// 10·log10(‖αs‖² / ‖αs − ŝ‖²), eps 1e-8.
public func siSDR(reference s: [Float], estimate e: [Float]) -> Double {
    let n = min(s.count, e.count)
    guard n > 0 else { return .nan }
    let ms = s.prefix(n).reduce(0.0) { $0 + Double($1) } / Double(n), me = e.prefix(n).reduce(0.0) { $0 + Double($1) } / Double(n)
    var dot = 0.0, ss = 0.0
    for i in 0..<n { let a = Double(s[i]) - ms, b = Double(e[i]) - me; dot += a * b; ss += a * a }
    let alpha = dot / (ss + 1e-8)
    var num = 0.0, den = 0.0
    for i in 0..<n {
        let t = alpha * (Double(s[i]) - ms), r = t - (Double(e[i]) - me)
        num += t * t; den += r * r
    }
    return 10 * log10((num + 1e-8) / (den + 1e-8))
}
