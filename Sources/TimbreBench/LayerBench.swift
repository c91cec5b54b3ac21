import Foundation
import TimbreLayers
import TimbreTensor

/// `timbre bench layers`: forward and backward rates of the layers that carry the models'
/// matrix work, against the same run's sgemm rate.
public enum LayerBench {
    public struct Config: Sendable {
        public var repeats = 5
        /// Only layers whose name contains this text (case-insensitive).
        public var only: String?
        public init() {}
    }

    static func randomTensor(_ shape: [Int], _ seed: UInt64) -> Tensor<Float> {
        let t = Tensor<Float>(zeros: shape)
        var r = RandomStream(seed: seed)
        r.fillUniform(t, -1, 1)
        return t
    }

    static func measure(_ name: String, flops: Double, sgemm: Double, repeats: Int,
                        forward: () -> Tensor<Float>, backward: (Tensor<Float>) -> Void) -> BenchRow {
        let y = forward()
        let dy = randomTensor(y.shape, 7)
        let tf = Bench.time(repeats: repeats) { _ = forward() }
        let tb = Bench.time(repeats: repeats) { backward(dy) }
        return BenchRow(name: name, forwardFLOPs: flops, forwardSeconds: tf, backwardSeconds: tb, sgemmGFLOPs: sgemm)
    }

    public static func run(_ cfg: Config = Config(), sgemm: Double, progress: (BenchRow) -> Void = { _ in }) -> [BenchRow] {
        var rows: [BenchRow] = []
        let rep = cfg.repeats
        /// Builds and measures one layer unless `--only` filters it out.
        func bench(_ name: String, flops: Double, _ make: () -> (forward: () -> Tensor<Float>, backward: (Tensor<Float>) -> Void)) {
            if let o = cfg.only, !name.lowercased().contains(o.lowercased()) { return }
            let (f, b) = make()
            let row = measure(name, flops: flops, sgemm: sgemm, repeats: rep, forward: f, backward: b)
            rows.append(row)
            progress(row)
        }

        bench("Linear 4096×512→512", flops: 2.0 * 4096 * 512 * 512) {
            let s = ParameterStore<Float>(); let l = Linear(s.root, 512, 512); s.finalize()
            let x = randomTensor([4096, 512], 1)
            return ({ l.forward(x) }, { _ = l.backward($0) })
        }
        // a VAE residual-unit conv (dilated, 'same' padding, weight-normalised)
        bench("Conv1d 64→64 k7 d3 WN, T=65536", flops: 2.0 * 64 * 64 * 7 * 65536) {
            let s = ParameterStore<Float>()
            let l = Conv1d(s.root, 64, 64, kernel: 7, dilation: 3, padding: 9, weightNorm: true); s.finalize()
            let x = randomTensor([1, 64, 65536], 2)
            return ({ l.forward(x) }, { _ = l.backward($0) })
        }
        // an encoder downsampling conv: k = 2s, stride s, padding s/2
        bench("Conv1d 64→128 k8 s4 WN, T=65536", flops: 2.0 * 64 * 128 * 8 * 16384) {
            let s = ParameterStore<Float>()
            let l = Conv1d(s.root, 64, 128, kernel: 8, stride: 4, padding: 2, weightNorm: true); s.finalize()
            let x = randomTensor([1, 64, 65536], 3)
            return ({ l.forward(x) }, { _ = l.backward($0) })
        }
        // a decoder upsampling conv, 16,384 → 65,536 samples
        bench("ConvTranspose1d 128→64 k8 s4 WN, T=16384", flops: 2.0 * 128 * 64 * 8 * 16384) {
            let s = ParameterStore<Float>()
            let l = ConvTranspose1d(s.root, 128, 64, kernel: 8, stride: 4, padding: 2, weightNorm: true); s.finalize()
            let x = randomTensor([1, 128, 16384], 4)
            return ({ l.forward(x) }, { _ = l.backward($0) })
        }
        // a multi-scale STFT discriminator convolution (docs/design.md §2's adversarial stage): 32 filters,
        // the n = 2048 scale of 4 × 32,768 samples (61 frames × 1,025 bins), frequency stride 2
        bench("Conv2d 32→32 k3×9 s1×2 d2 WN 4×61×1025", flops: 2.0 * 32 * 32 * 27 * 61 * 513 * 4) {
            let s = ParameterStore<Float>()
            let l = Conv2d(s.root, 32, 32, kernel: (3, 9), stride: (1, 2), dilation: (2, 1), padding: (2, 4), weightNorm: true); s.finalize()
            let x = randomTensor([4, 32, 61, 1025], 6)
            return ({ l.forward(x) }, { _ = l.backward($0) })
        }
        // joint attention, batch 8, 512 tokens, 6 heads × 64; one example padded, as batches are
        let (B, N, H, hd) = (8, 512, 6, 64)
        bench("JointAttention B8 N512 6×64", flops: 2.0 * Double(B * H) * Double(N * N * hd) * 2) {
            let a = JointAttention<Float>(heads: H, headDim: hd)
            let qkv = randomTensor([B, N, 3 * H * hd], 5)
            var mask = [Bool](repeating: true, count: B * N)
            for n in 448..<N { mask[n] = false }
            return ({ a.forward(qkv, keyMask: mask) }, { _ = a.backward($0) })
        }
        return rows
    }
}
