import Foundation
import XCTest
import TimbreDSP

/// TimbreDSP against golden values from Tests/python/dsp_golden.py (numpy, torch.stft and librosa
/// conventions), plus self-consistency checks.
final class DSPTests: XCTestCase {
    nonisolated(unsafe) static let golden: [String: Any] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("python/dsp_golden.json")
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }()
    var signal: [Float] { (Self.golden["signal"] as! [Double]).map(Float.init) }

    func testPeriodicHann() {
        let ref = Self.golden["hann16"] as! [Double]
        for (a, b) in zip(Window.hann(16), ref) { XCTAssertEqual(Double(a), b, accuracy: 1e-7) }
    }

    func testSTFTMagnitudesReflectPadding() {
        let g = Self.golden["stft32_8_reflect"] as! [String: Any]
        let shape = g["shape"] as! [Int], ref = g["values"] as! [Double]
        let st = STFT(nFFT: 32, hop: 8, center: true, padding: .reflect)
        XCTAssertEqual([st.frames(signal.count), st.bins], shape)
        let m = st.magnitude(signal)
        let scale = ref.max()!
        for i in 0..<ref.count { XCTAssertEqual(Double(m[i]), ref[i], accuracy: 2e-6 * scale, "bin \(i)") }
    }

    func testSTFTMagnitudesConstantPadding() {
        let g = Self.golden["stft128_32_constant"] as! [String: Any]
        let st = STFT(nFFT: 128, hop: 32, center: true, padding: .constant)
        XCTAssertEqual([st.frames(signal.count), st.bins], g["shape"] as! [Int])
        let m = st.magnitude(signal)
        XCTAssertEqual(m.reduce(0.0) { $0 + Double($1) }, g["sum"] as! Double, accuracy: 1e-5 * (g["sum"] as! Double))
        for e in g["entries"] as! [[Double]] {
            XCTAssertEqual(Double(m[Int(e[0]) * st.bins + Int(e[1])]), e[2], accuracy: 1e-4)
        }
    }

    func testSlaneyMelFilterbankMatchesLibrosa() {
        let g = Self.golden["mel_44100_2048_80"] as! [String: Any]
        let w = Mel.filterbank(sampleRate: 44100, nFFT: 2048, nMels: 80)
        let sums = g["row_sums"] as! [Double]
        for i in 0..<80 {
            let s = (0..<1025).reduce(0.0) { $0 + Double(w[i * 1025 + $1]) }
            XCTAssertEqual(s, sums[i], accuracy: 1e-5 * max(1, sums[i]))
        }
        for e in g["entries"] as! [[Double]] {
            XCTAssertEqual(Double(w[Int(e[0]) * 1025 + Int(e[1])]), e[2], accuracy: 1e-7 + 1e-5 * e[2])
        }
    }

    func testInverseSTFTReconstructs() {
        let x = signal
        let st = STFT(nFFT: 64, hop: 16)
        var spec = [Float](repeating: 0, count: st.frames(x.count) * st.bins * 2)
        x.withUnsafeBufferPointer { xb in spec.withUnsafeMutableBufferPointer { st.complex(xb.baseAddress!, count: x.count, into: $0.baseAddress!) } }
        let y = st.inverse(spec, frames: st.frames(x.count), length: x.count)
        let err = zip(x, y).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(err, 1e-5)
    }

    func testYINFindsToneAndSilence() {
        let sr = 16000.0
        let tone: [Float] = (0..<16000).map { i in
            let t = Double(i) / sr
            return Float(0.5 * sin(2 * .pi * 210 * t) + 0.25 * sin(2 * .pi * 420 * t) + 0.1 * sin(2 * .pi * 630 * t))
        }
        XCTAssertEqual(YIN.median(YIN.track(tone)), 210, accuracy: 0.5)
        let low: [Float] = (0..<16000).map { Float(0.4 * sin(2 * .pi * 87.5 * Double($0) / sr)) }
        XCTAssertEqual(YIN.median(YIN.track(low)), 87.5, accuracy: 0.5)
        XCTAssertEqual(YIN.median(YIN.track([Float](repeating: 0, count: 16000))), 0)
        let silencePadded = tone + [Float](repeating: 0, count: 16000)
        XCTAssertEqual(ActiveSpeech.seconds(silencePadded, sampleRate: 16000), 1.0, accuracy: 0.02)
    }
}

final class AWeightingTests: XCTestCase {
    /// The FIR design (bilinear → freqz → firls) against scipy's, and its application against
    /// numpy's correlation with zero padding (auraloss's Conv1d with padding ntaps/2).
    func testTapsAndFilterMatchScipy() {
        let ref = DSPTests.golden["aweighting_44100"] as! [Double]
        let taps = AWeighting.taps(sampleRate: 44100)
        XCTAssertEqual(taps.count, 101)
        let scale = ref.map(abs).max()!
        for (a, b) in zip(taps, ref) { XCTAssertEqual(a, b, accuracy: 1e-7 * scale) }
        let x = (DSPTests.golden["signal"] as! [Double]).map(Float.init)
        let y = AWeighting.apply(x, taps: taps.map(Float.init))
        let yref = DSPTests.golden["aweighting_filtered_signal"] as! [Double]
        for (a, b) in zip(y, yref) { XCTAssertEqual(Double(a), b, accuracy: 1e-5) }
    }
}
