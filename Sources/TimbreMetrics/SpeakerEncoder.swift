import Foundation
import TimbreAudio
import TimbreDSP
import TimbreFormats
import TimbreTensor

/// The GE2E speaker encoder of docs/design.md §6 (resemblyzer 0.1.4's weights): 16 kHz audio, volume raised
/// to −30 dBFS if quieter (resemblyzer's `normalize_volume(increase_only=True)`), 40-band Slaney
/// mel power spectrogram (n_fft 400, hop 160, centred with reflect padding, periodic Hann; not
/// logarithmic), a 3-layer LSTM (256) whose last hidden state goes through Linear 256 + ReLU and
/// L2 normalisation; an utterance is cut into partials of 160 frames every 77 frames (the last
/// kept if at least 75 % covered, the audio zero-padded to it), and the partial embeddings are
/// averaged and renormalised. resemblyzer also trims long silences with webrtcvad; Timbre does
/// not (the corpus's clips carry little silence, and the metric should not depend on a VAD).
public final class SpeakerEncoder: @unchecked Sendable {
    public static let sampleRate = 16_000
    public static let partialFrames = 160, frameStep = 77, hop = 160, nFFT = 400, mels = 40, hidden = 256
    /// Where `Recipes/setup.sh` puts the converted weights.
    public static let defaultWeights = "Checkpoints/speaker-encoder/ge2e.safetensors"

    /// `path` as given when it exists; the default path is also looked for under every folder
    /// above the running executable (`.build/release/timbre` lies inside the repository), so the
    /// commands find the weights wherever they are run from.
    public static func locate(_ path: String) -> String {
        let fm = FileManager.default
        guard path == defaultWeights, !fm.fileExists(atPath: path) else { return path }
        var dir = URL(fileURLWithPath: (try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]).deletingLastPathComponent()
        while dir.path != "/" && !dir.path.isEmpty {
            let candidate = dir.appendingPathComponent(defaultWeights).path
            if fm.fileExists(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return path
    }

    let wih: [[Float]], whh: [[Float]], bias: [[Float]], linW: [Float], linB: [Float]
    let filterbank: [Float]

    public init(weights given: String = SpeakerEncoder.defaultWeights) throws {
        let path = Self.locate(given)
        guard FileManager.default.fileExists(atPath: path) else {
            throw FormatError.io(path, "speaker-encoder weights not found; Recipes/setup.sh fetches them (pip download resemblyzer==0.1.4, converted by Datasets/tools/torch_legacy_to_safetensors.py)")
        }
        let f = try SafeTensorsFile.read(path)
        func get(_ name: String, _ shape: [Int]) throws -> [Float] {
            var out = [Float](repeating: 0, count: shape.reduce(1, *))
            try out.withUnsafeMutableBufferPointer { try f.copyFloats(name, shape: shape, into: $0.baseAddress!) }
            return out
        }
        let H = Self.hidden
        var wih: [[Float]] = [], whh: [[Float]] = [], bias: [[Float]] = []
        for l in 0..<3 {
            wih.append(try get("lstm.weight_ih_l\(l)", [4 * H, l == 0 ? Self.mels : H]))
            whh.append(try get("lstm.weight_hh_l\(l)", [4 * H, H]))
            let bi = try get("lstm.bias_ih_l\(l)", [4 * H]), bh = try get("lstm.bias_hh_l\(l)", [4 * H])
            bias.append(zip(bi, bh).map { $0 + $1 })
        }
        self.wih = wih; self.whh = whh; self.bias = bias
        linW = try get("linear.weight", [H, H]); linB = try get("linear.bias", [H])
        filterbank = Mel.filterbank(sampleRate: Self.sampleRate, nFFT: Self.nFFT, nMels: Self.mels)
    }

    /// resemblyzer's `normalize_volume(wav, -30, increase_only=True)`.
    public static func normaliseVolume(_ x: [Float]) -> [Float] {
        let ms = x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(x.count, 1))
        guard ms > 0 else { return x }
        let change = -30 - 10 * log10(ms)
        guard change > 0 else { return x }
        let g = Float(pow(10, change / 20))
        return x.map { $0 * g }
    }

    /// Mel power frames `[frames, 40]` of 16 kHz audio.
    public func melFrames(_ x: [Float]) -> [Float] {
        let st = STFT(nFFT: Self.nFFT, hop: Self.hop, center: true, padding: .reflect)
        let mag = st.magnitude(x), K = st.bins, F = mag.count / K
        var out = [Float](repeating: 0, count: F * Self.mels)
        for f in 0..<F {
            for m in 0..<Self.mels {
                var s: Float = 0
                for k in 0..<K { let a = mag[f * K + k]; s += filterbank[m * K + k] * a * a }
                out[f * Self.mels + m] = s
            }
        }
        return out
    }

    /// Partial windows (start frames) for an utterance of `n` samples, and the padded length
    /// (resemblyzer's `compute_partial_slices` with rate 1.3 and min_coverage 0.75).
    public static func partials(samples n: Int) -> (starts: [Int], paddedLength: Int) {
        let nFrames = Int((Double(n + 1) / Double(hop)).rounded(.up))
        let steps = max(1, nFrames - partialFrames + frameStep + 1)
        var starts = Array(stride(from: 0, to: steps, by: frameStep))
        let last = starts.last! * hop
        let coverage = Double(n - last) / Double(partialFrames * hop)
        if coverage < 0.75 && starts.count > 1 { starts.removeLast() }
        return (starts, max(n, (starts.last! + partialFrames) * hop))
    }

    /// Embeddings (L2-normalised, 256) of `B` mel windows `[B, T, 40]`.
    public func embedWindows(_ mels: [Float], count B: Int, frames T: Int) -> [[Float]] {
        // The per-step products are small ([B, 256] × [256, 1024]): threads would only add
        // synchronisation, so BLAS runs on this thread.
        BLAS.singleThreaded { embedWindowsSerial(mels, count: B, frames: T) }
    }

    func embedWindowsSerial(_ mels: [Float], count B: Int, frames T: Int) -> [[Float]] {
        let H = Self.hidden, G = 4 * H
        var input = mels, inDim = Self.mels
        var h = [Float](repeating: 0, count: B * H)
        for l in 0..<3 {
            // Input projections for every (b, t) at once: [B·T, 4H].
            var gx = [Float](repeating: 0, count: B * T * G)
            for r in 0..<(B * T) { for j in 0..<G { gx[r * G + j] = bias[l][j] } }
            input.withUnsafeBufferPointer { a in wih[l].withUnsafeBufferPointer { w in gx.withUnsafeMutableBufferPointer { c in
                Float.gemm(transA: false, transB: true, m: B * T, n: G, k: inDim, alpha: 1, a: a.baseAddress!, lda: inDim,
                           b: w.baseAddress!, ldb: inDim, beta: 1, c: c.baseAddress!, ldc: G)
            } } }
            var c = [Float](repeating: 0, count: B * H), out = [Float](repeating: 0, count: B * T * H)
            h = [Float](repeating: 0, count: B * H)
            var gates = [Float](repeating: 0, count: B * G)
            for t in 0..<T {
                for b in 0..<B { for j in 0..<G { gates[b * G + j] = gx[(b * T + t) * G + j] } }
                h.withUnsafeBufferPointer { a in whh[l].withUnsafeBufferPointer { w in gates.withUnsafeMutableBufferPointer { g in
                    Float.gemm(transA: false, transB: true, m: B, n: G, k: H, alpha: 1, a: a.baseAddress!, lda: H,
                               b: w.baseAddress!, ldb: H, beta: 1, c: g.baseAddress!, ldc: G)
                } } }
                for b in 0..<B {
                    for j in 0..<H {
                        let gi = gates[b * G + j], gf = gates[b * G + H + j], gg = gates[b * G + 2 * H + j], go = gates[b * G + 3 * H + j]
                        let i = 1 / (1 + Foundation.exp(-gi)), f = 1 / (1 + Foundation.exp(-gf)), o = 1 / (1 + Foundation.exp(-go))
                        let cc = f * c[b * H + j] + i * Foundation.tanh(gg)
                        c[b * H + j] = cc
                        let hh = o * Foundation.tanh(cc)
                        h[b * H + j] = hh
                        out[(b * T + t) * H + j] = hh
                    }
                }
            }
            input = out; inDim = H
        }
        return (0..<B).map { b in
            var e = [Float](repeating: 0, count: H)
            for o in 0..<H {
                var s = linB[o]
                for i in 0..<H { s += linW[o * H + i] * h[b * H + i] }
                e[o] = max(s, 0)
            }
            let n = e.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return e.map { $0 / max(n, 1e-12) }
        }
    }

    /// The utterance embedding of `audio` at `rate` Hz (resampled to 16 kHz with libsoxr).
    public func embed(_ audio: [Float], rate: Int) throws -> [Float] {
        let x16 = rate == Self.sampleRate ? audio : try Resampler.resample(audio, from: rate, to: Self.sampleRate)
        return embed16k(x16)
    }

    /// The utterance embedding of 16 kHz audio.
    public func embed16k(_ audio: [Float]) -> [Float] {
        var x = Self.normaliseVolume(audio)
        let (starts, padded) = Self.partials(samples: x.count)
        x += [Float](repeating: 0, count: padded - x.count)
        let mel = melFrames(x), T = Self.partialFrames, M = Self.mels
        var windows = [Float](repeating: 0, count: starts.count * T * M)
        for (b, s) in starts.enumerated() {
            for t in 0..<T where (s + t) * M < mel.count { for m in 0..<M { windows[(b * T + t) * M + m] = mel[(s + t) * M + m] } }
        }
        let parts = embedWindows(windows, count: starts.count, frames: T)
        var mean = [Float](repeating: 0, count: Self.hidden)
        for p in parts { for i in 0..<Self.hidden { mean[i] += p[i] / Float(parts.count) } }
        let n = mean.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return mean.map { $0 / max(n, 1e-12) }
    }

    /// Cosine similarity of two embeddings (both already unit length: their dot product).
    public static func similarity(_ a: [Float], _ b: [Float]) -> Double {
        var s = 0.0
        for i in 0..<min(a.count, b.count) { s += Double(a[i]) * Double(b[i]) }
        return s
    }
}
