import Foundation

/// A-weighting pre-emphasis as auraloss's `FIRFilter(filter_type="aw", ntaps=101)`: the analog
/// A-weighting filter (IEC/CD 1672 poles, +1.9997 dB at 1 kHz) mapped to a digital IIR filter by
/// the bilinear transform, its magnitude response sampled at 512 frequencies (scipy `freqz`), and
/// a linear-phase FIR fitted to it by least squares (scipy `firls`, the 512 points taken as 256
/// bands). Applied as a 'same'-length correlation with zero padding of ntaps/2, as auraloss's
/// Conv1d does.
public enum AWeighting {
    /// FIR taps for a sample rate.
    public static func taps(sampleRate fs: Double, count: Int = 101) -> [Double] {
        let (b, a) = digitalIIR(fs)
        let (w, h) = magnitudeResponse(b, a, points: 512, fs: fs)
        return firls(count, bands: w, desired: h, fs: fs)
    }

    /// y[t] = Σ_j taps[j] · x[t + j − ntaps/2] (zero outside x).
    public static func apply(_ x: [Float], taps: [Float]) -> [Float] {
        let n = x.count, k = taps.count, p = k / 2
        var y = [Float](repeating: 0, count: n)
        for t in 0..<n {
            var s: Float = 0
            let lo = max(0, p - t), hi = min(k, n + p - t)
            for j in lo..<hi { s += taps[j] * x[t + j - p] }
            y[t] = s
        }
        return y
    }

    static func polymul(_ a: [Double], _ b: [Double]) -> [Double] {
        var r = [Double](repeating: 0, count: a.count + b.count - 1)
        for i in a.indices { for j in b.indices { r[i + j] += a[i] * b[j] } }
        return r
    }

    static func comb(_ n: Int, _ k: Int) -> Double {
        var r = 1.0
        if k < 0 || k > n { return 0 }
        for i in 0..<k { r = r * Double(n - i) / Double(i + 1) }
        return r
    }

    /// scipy.signal.bilinear of the analog A-weighting filter.
    static func digitalIIR(_ fs: Double) -> ([Double], [Double]) {
        let f1 = 20.598997, f2 = 107.65265, f3 = 737.86223, f4 = 12194.217, a1000 = 1.9997
        let pi = Double.pi
        let num = [pow(2 * pi * f4, 2) * pow(10, a1000 / 20), 0, 0, 0, 0]
        var den = polymul([1, 4 * pi * f4, pow(2 * pi * f4, 2)], [1, 4 * pi * f1, pow(2 * pi * f1, 2)])
        den = polymul(polymul(den, [1, 2 * pi * f3]), [1, 2 * pi * f2])
        func transform(_ p: [Double], _ M: Int) -> [Double] {
            let N = p.count - 1
            var out = [Double](repeating: 0, count: M + 1)
            for j in 0...M {
                var v = 0.0
                for i in 0...N {
                    for k in 0...i {
                        let l = j - k
                        if l >= 0 && l <= M - i {
                            v += comb(i, k) * comb(M - i, l) * p[N - i] * pow(2 * fs, Double(i)) * (k % 2 == 0 ? 1 : -1)
                        }
                    }
                }
                out[j] = v
            }
            return out
        }
        let M = max(num.count, den.count) - 1
        let b = transform(num, M), a = transform(den, M)
        return (b.map { $0 / a[0] }, a.map { $0 / a[0] })
    }

    /// scipy.signal.freqz(b, a, worN=points, fs=fs): frequencies in Hz and |H|.
    static func magnitudeResponse(_ b: [Double], _ a: [Double], points: Int, fs: Double) -> ([Double], [Double]) {
        var w = [Double](), h = [Double]()
        for i in 0..<points {
            let om = Double.pi * Double(i) / Double(points)
            func eval(_ c: [Double]) -> (Double, Double) {
                var re = 0.0, im = 0.0
                for (k, v) in c.enumerated() { re += v * cos(om * Double(k)); im -= v * sin(om * Double(k)) }
                return (re, im)
            }
            let (br, bi) = eval(b), (ar, ai) = eval(a)
            w.append(om * fs / (2 * Double.pi))
            h.append(((br * br + bi * bi) / (ar * ar + ai * ai)).squareRoot())
        }
        return (w, h)
    }

    static func sinc(_ x: Double) -> Double { x == 0 ? 1 : sin(Double.pi * x) / (Double.pi * x) }

    /// scipy.signal.firls(numtaps, bands, desired, fs=fs) with unit weights; `bands`/`desired`
    /// are flat lists of band-edge pairs.
    static func firls(_ numtaps: Int, bands rawBands: [Double], desired: [Double], fs: Double) -> [Double] {
        precondition(numtaps % 2 == 1 && rawBands.count % 2 == 0)
        let M = (numtaps - 1) / 2
        let nyq = fs / 2
        let bands = rawBands.map { $0 / nyq }
        let nb = bands.count / 2
        // q[n] = Σ_bands (f1·sinc(f1 n) − f0·sinc(f0 n)), n = 0 … numtaps−1
        var q = [Double](repeating: 0, count: numtaps)
        for n in 0..<numtaps {
            for k in 0..<nb {
                let f0 = bands[2 * k], f1 = bands[2 * k + 1]
                q[n] += f1 * sinc(f1 * Double(n)) - f0 * sinc(f0 * Double(n))
            }
        }
        var Q = [[Double]](repeating: [Double](repeating: 0, count: M + 1), count: M + 1)
        for i in 0...M { for j in 0...M { Q[i][j] = q[abs(i - j)] + q[i + j] } }
        var bvec = [Double](repeating: 0, count: M + 1)
        for k in 0..<nb {
            let f0 = bands[2 * k], f1 = bands[2 * k + 1], d0 = desired[2 * k], d1 = desired[2 * k + 1]
            let m = (d1 - d0) / (f1 - f0), c = d0 - f0 * m
            for n in 0...M {
                func term(_ f: Double) -> Double {
                    var t = f * (m * f + c) * sinc(f * Double(n))
                    if n == 0 { t -= m * f * f / 2 } else { t += m * cos(Double(n) * Double.pi * f) / pow(Double.pi * Double(n), 2) }
                    return t
                }
                bvec[n] += term(f1) - term(f0)
            }
        }
        let a = solve(Q, bvec)
        var out = [Double]()
        for i in stride(from: M, to: 0, by: -1) { out.append(a[i]) }
        out.append(2 * a[0])
        for i in 1...M { out.append(a[i]) }
        return out
    }

    /// Gaussian elimination with partial pivoting (the system is small and positive definite).
    static func solve(_ A0: [[Double]], _ b0: [Double]) -> [Double] {
        var A = A0, b = b0
        let n = b.count
        for col in 0..<n {
            let piv = (col..<n).max { abs(A[$0][col]) < abs(A[$1][col]) }!
            A.swapAt(col, piv); b.swapAt(col, piv)
            for r in (col + 1)..<n where A[r][col] != 0 {
                let f = A[r][col] / A[col][col]
                for c in col..<n { A[r][c] -= f * A[col][c] }
                b[r] -= f * b[col]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for r in stride(from: n - 1, through: 0, by: -1) {
            var s = b[r]
            for c in (r + 1)..<n { s -= A[r][c] * x[c] }
            x[r] = s / A[r][r]
        }
        return x
    }
}
