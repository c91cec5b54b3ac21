import XCTest
import TimbreLayers
import TimbreTensor

/// Float32 forward outputs of the BLAS-backed layers against plain loops in Float64, and the
/// Float32 backward against the Float64 backward of the same layer at sizes that split the work
/// into many chunks (the gradient table covers the math; these cover the chunking). Row counts
/// that are multiples of 8 run `ConvKernel` for Float (with BLAS for each chunk's last columns),
/// the others BLAS alone; both are covered.
final class ForwardReferenceTests: XCTestCase {
    func randomTensor<T: TensorScalar>(_ shape: [Int], _ seed: UInt64) -> Tensor<T> {
        let t = Tensor<T>(zeros: shape)
        var r = RandomStream(seed: seed)
        r.fillNormal(t)
        return t
    }

    func assertClose<T: TensorScalar>(_ a: Tensor<T>, _ b: [Double], tol: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        var worst = 0.0, scale = 1e-12
        for i in 0..<min(a.count, b.count) { worst = max(worst, abs(Double(a[i]) - b[i])); scale = max(scale, abs(b[i])) }
        XCTAssertLessThan(worst / scale, tol, "\(what): max error \(worst), scale \(scale)", file: file, line: line)
    }

    struct ConvCfg { var cin, cout, k, s, d, p, t, b: Int }

    func naiveConv(_ x: Tensor<Float>, _ w: Tensor<Float>, _ bias: Tensor<Float>?, _ c: ConvCfg, tout: Int) -> [Double] {
        var y = [Double](repeating: 0, count: c.b * c.cout * tout)
        for b in 0..<c.b { for o in 0..<c.cout { for t in 0..<tout {
            var s = bias.map { Double($0[o]) } ?? 0
            for i in 0..<c.cin { for j in 0..<c.k {
                let u = t * c.s + j * c.d - c.p
                if u >= 0 && u < c.t { s += Double(w[(o * c.cin + i) * c.k + j]) * Double(x[(b * c.cin + i) * c.t + u]) }
            } }
            y[(b * c.cout + o) * tout + t] = s
        } } }
        return y
    }

    /// Chunks cover the columns and are at most the cache-sized width (or 32 columns) plus one
    /// tile; a stride-1 scatter's 1,033 columns at 128 rows become two chunks of nearly equal
    /// width (they were 1,024 + 9, and round-robin gave every wide chunk to one core), and a
    /// single example's chunks divide evenly among the workers.
    func testChunksAreEvenAndCoverTheColumns() {
        let engine = ConvEngine<Float>()
        for rows in [1, 32, 128, 256, 4096] {
            for total in [1, 31, 32, 33, 130, 1033, 4096, 16384, 16387, 32800] {
                for batch in [1, 3, 4] {
                    let (width, count) = engine.chunking(rows, total, batch: batch)
                    let what = "rows \(rows) total \(total) batch \(batch): width \(width) × \(count)"
                    XCTAssertTrue(width * count >= total && width * (count - 1) < total, what)
                    XCTAssertLessThanOrEqual(width, max(32, engine.chunkElements / rows) + 31, what)
                }
            }
        }
        let (width, count) = engine.chunking(128, 1033, batch: 4)
        XCTAssertEqual(count, 2)
        XCTAssertEqual(width, 544)  // 544 + 489
        if Parallel.workers == 2 {
            XCTAssertEqual(engine.chunking(32, 2 * 4096 + 100, batch: 1).count, 4)  // not 4,096 + 4,096 + 100 on two cores
        }
    }

    /// The vectorised phase split and merge (strides 2, 4, 8 for Float) against plain loops, on
    /// column ranges that start and end off the 16-column groups; Double and stride 3 take the loops.
    func testPhaseSplitAndMergeMatchLoops() {
        func check<T: TensorScalar>(_: T.Type, s: Int, columns: Range<Int>) {
            let ld = columns.upperBound + 5
            let src: Tensor<T> = randomTensor([columns.upperBound * s + s], UInt64(s))
            let rows = Tensor<T>(zeros: [s * ld]), expected = Tensor<T>(zeros: [s * ld])
            Phases.split(UnsafePointer(src.data), s: s, into: rows.data, ld: ld, columns: columns)
            for i in columns { for r in 0..<s { expected[r * ld + i] = src[i * s + r] } }
            XCTAssertEqual(rows.array, expected.array, "split s \(s) \(T.self) \(columns)")
            let dst: Tensor<T> = randomTensor([columns.upperBound * s + s], 9), want = Tensor<T>(zeros: dst.shape)
            for i in 0..<dst.count { want[i] = dst[i] }
            Phases.mergeAdding(UnsafePointer(rows.data), s: s, ld: ld, into: dst.data, columns: columns)
            for i in columns { for r in 0..<s { want[i * s + r] += rows[r * ld + i] } }
            XCTAssertEqual(dst.array, want.array, "merge s \(s) \(T.self) \(columns)")
        }
        for s in [2, 3, 4, 8] {
            for columns in [0..<0, 3..<70, 0..<64, 17..<33] {
                check(Float.self, s: s, columns: columns)
                check(Double.self, s: s, columns: columns)
            }
        }
    }

    func testConv1dMatchesNaiveLoops() {
        for (c, chunk) in [(ConvCfg(cin: 5, cout: 7, k: 7, s: 1, d: 3, p: 9, t: 1001, b: 2), 256),
                           (ConvCfg(cin: 4, cout: 6, k: 8, s: 4, d: 1, p: 2, t: 999, b: 3), 256),
                           (ConvCfg(cin: 3, cout: 2, k: 1, s: 1, d: 1, p: 0, t: 1, b: 1), 256),
                           // ConvKernel: 16 and 8 output rows; 2,000-element chunks end in columns past a multiple of 32
                           (ConvCfg(cin: 8, cout: 16, k: 7, s: 1, d: 9, p: 27, t: 1001, b: 2), 2000),
                           (ConvCfg(cin: 3, cout: 8, k: 8, s: 4, d: 1, p: 2, t: 999, b: 3), 2000),
                           (ConvCfg(cin: 24, cout: 8, k: 1, s: 1, d: 1, p: 0, t: 40, b: 1), 1 << 17)] {
            let store = ParameterStore<Float>()
            let conv = Conv1d(store.root, c.cin, c.cout, kernel: c.k, stride: c.s, dilation: c.d, padding: c.p, weightNorm: true)
            store.finalize(seed: 11)
            conv.engine.chunkElements = chunk  // many chunks
            let x: Tensor<Float> = randomTensor([c.b, c.cin, c.t], 1)
            // weight-norm init makes the effective weight equal weight_v
            let tout = conv.outputLength(c.t)
            let ref = naiveConv(x, conv.weight.v!.value, conv.bias!.value, c, tout: tout)
            let res: Tensor<Float> = randomTensor([c.b, c.cout, tout], 2)
            for narrow in [false, true] {  // ConvKernel's AVX-512 and AVX2 tiles
                conv.engine.narrowKernels = narrow
                let y = conv.forward(x)
                XCTAssertEqual(y.shape, [c.b, c.cout, tout])
                assertClose(y, ref, tol: 1e-5, "Conv1d \(c), narrow \(narrow)")
                // with a residual added (it and the bias start the products' sums)
                let yr = conv.forward(x, adding: res)
                assertClose(yr, zip(ref, res.array).map { $0 + Double($1) }, tol: 1e-5, "Conv1d \(c) + residual, narrow \(narrow)")
            }
        }
    }

    func testConvTranspose1dMatchesNaiveLoops() {
        // (5, 3, …): 24 phase-window rows, so ConvKernel; (2, 4, …): 8 rows; (3, 5, k 3 s 3): 15 rows, BLAS
        for (cin, cout, k, s, d, p, op, t, b) in [(5, 3, 16, 8, 1, 4, 0, 301, 2), (2, 4, 3, 2, 2, 1, 1, 77, 1), (3, 5, 3, 3, 1, 0, 0, 90, 1)] {
            let store = ParameterStore<Float>()
            let ct = ConvTranspose1d(store.root, cin, cout, kernel: k, stride: s, dilation: d, padding: p, outputPadding: op)
            store.finalize(seed: 12)
            ct.engine.chunkElements = 1000
            let x: Tensor<Float> = randomTensor([b, cin, t], 2)
            ct.engine.narrowKernels = true
            let narrowY = ct.forward(x).array
            ct.engine.narrowKernels = false
            let y = ct.forward(x)
            let tout = ct.outputLength(t)
            var ref = [Double](repeating: 0, count: b * cout * tout)
            let w = ct.weight.weight!.value!, bias = ct.bias!.value!
            for bb in 0..<b { for o in 0..<cout { for u in 0..<tout { ref[(bb * cout + o) * tout + u] = Double(bias[o]) } } }
            for bb in 0..<b { for i in 0..<cin { for tt in 0..<t { for o in 0..<cout { for j in 0..<k {
                let u = tt * s + j * d - p
                if u >= 0 && u < tout { ref[(bb * cout + o) * tout + u] += Double(w[(i * cout + o) * k + j]) * Double(x[(bb * cin + i) * t + tt]) }
            } } } } }
            assertClose(y, ref, tol: 1e-5, "ConvTranspose1d k\(k) s\(s)")
            assertClose(Tensor(narrowY, shape: y.shape), ref, tol: 1e-5, "ConvTranspose1d k\(k) s\(s), AVX2 tiles")
        }
    }

    func testAttentionMatchesNaiveLoops() {
        let (B, N, H, hd) = (3, 37, 2, 8)
        let a = JointAttention<Float>(heads: H, headDim: hd)
        let qkv: Tensor<Float> = randomTensor([B, N, 3 * H * hd], 3)
        var mask = [Bool](repeating: true, count: B * N)
        for n in 30..<N { mask[N + n] = false }
        for n in 0..<N { mask[2 * N + n] = false }
        let o = a.forward(qkv, keyMask: mask)
        var ref = [Double](repeating: 0, count: B * N * H * hd)
        let w = 3 * H * hd
        for b in 0..<B { for h in 0..<H { for i in 0..<N {
            var s = [Double](repeating: -.infinity, count: N)
            for j in 0..<N where mask[b * N + j] {
                var d = 0.0
                for e in 0..<hd { d += Double(qkv[(b * N + i) * w + h * hd + e]) * Double(qkv[(b * N + j) * w + H * hd + h * hd + e]) }
                s[j] = d / Double(hd).squareRoot()
            }
            let m = s.max()!
            if m == -.infinity { continue }
            let e = s.map { Foundation.exp($0 - m) }, z = e.reduce(0, +)
            for c in 0..<hd {
                var acc = 0.0
                for j in 0..<N { acc += e[j] / z * Double(qkv[(b * N + j) * w + 2 * H * hd + h * hd + c]) }
                ref[(b * N + i) * H * hd + h * hd + c] = acc
            }
        } } }
        assertClose(o, ref, tol: 1e-5, "JointAttention")
    }

    /// SnakeBeta's Float backward (16 lanes at a time, one range reduction for sin and cos, the
    /// residual added in the same pass) against the Float64 one, rows longer than and not a
    /// multiple of 16, parameters away from their zero init.
    func testSnakeBetaFloatBackwardMatchesFloat64() {
        func run<T: TensorScalar>(_: T.Type) -> (Tensor<T>, Tensor<T>) {
            let store = ParameterStore<T>()
            let l = SnakeBeta(store.root, 5)
            store.finalize(seed: 3)
            var r = RandomStream(seed: 8)
            for i in 0..<5 { l.alpha.value[i] = T(0.5 * r.normal()); l.beta.value[i] = T(0.5 * r.normal()) }
            let x: Tensor<T> = randomTensor([2, 5, 53], 6)
            for i in 0..<x.count { x[i] *= 3 }  // several periods of sin
            _ = l.forward(x)
            let dy: Tensor<T> = randomTensor([2, 5, 53], 7), skip: Tensor<T> = randomTensor([2, 5, 53], 9)
            let dx = l.backward(dy, adding: skip).clone()
            return (dx, store.grads)
        }
        let (dx32, g32) = run(Float.self), (dx64, g64) = run(Double.self)
        assertClose(dx32, dx64.array, tol: 1e-5, "SnakeBeta dx + residual")
        assertClose(g32, g64.array, tol: 1e-5, "SnakeBeta alpha, beta gradients")
    }

    /// Float32 gradients of chunked, parallel convolutions equal the Float64 ones of the same layer.
    func testChunkedConvBackwardMatchesFloat64() {
        // Channels 6 → 5: BLAS alone; 8 → 16 and 16 → 8: ConvKernel in every product but the weight gradient.
        func run<T: TensorScalar>(_: T.Type, transpose: Bool, channels: (Int, Int), narrow: Bool = false) -> (Tensor<T>, Tensor<T>) {
            let store = ParameterStore<T>()
            let (cin, cout) = channels
            let x: Tensor<T> = randomTensor(transpose ? [2, cin, 150] : [2, cin, 1200], 4)
            let y: Tensor<T>
            let back: (Tensor<T>) -> Tensor<T>
            if transpose {
                let l = ConvTranspose1d(store.root, cin, cout, kernel: 8, stride: 4, padding: 2, weightNorm: true)
                store.finalize(seed: 9); l.engine.chunkElements = 50 * cin; l.engine.narrowKernels = narrow
                y = l.forward(x); back = l.backward
            } else {
                let l = Conv1d(store.root, cin, cout, kernel: 7, dilation: 9, padding: 27, weightNorm: true)
                store.finalize(seed: 9); l.engine.chunkElements = 50 * cin; l.engine.narrowKernels = narrow
                y = l.forward(x); back = l.backward
            }
            let dy: Tensor<T> = randomTensor(y.shape, 5)
            let dx = back(dy).clone()
            return (dx, store.grads)
        }
        for transpose in [false, true] {
            for channels in [(6, 5), (8, 16), (16, 8)] {
                let (dx64, g64) = run(Double.self, transpose: transpose, channels: channels)
                for narrow in [false, true] {  // ConvKernel's AVX-512 and AVX2 tiles
                    let (dx32, g32) = run(Float.self, transpose: transpose, channels: channels, narrow: narrow)
                    assertClose(dx32, dx64.array, tol: 1e-5, "dx (transpose: \(transpose), channels \(channels), narrow \(narrow))")
                    assertClose(g32, g64.array, tol: 1e-4, "parameter gradients (transpose: \(transpose), channels \(channels), narrow \(narrow))")
                }
            }
        }
    }

    /// A pitch decoder's source injections (one input channel, k = 2d, stride d, pad d/2, and the
    /// 1×1 one at the audio rate) and nearest upsampling's convolution, forward and backward in
    /// Float on every tile type against Float64.
    func testSourceInjectionShapesMatchFloat64() {
        struct Shape { var cin, cout, k, s, p, t: Int }
        func run<T: TensorScalar>(_: T.Type, _ c: Shape, narrow: Bool) -> (Tensor<T>, Tensor<T>, Tensor<T>) {
            let store = ParameterStore<T>()
            let l = Conv1d(store.root, c.cin, c.cout, kernel: c.k, stride: c.s, padding: c.p, weightNorm: c.k > 1)
            store.finalize(seed: 9); l.engine.narrowKernels = narrow
            let x: Tensor<T> = randomTensor([2, c.cin, c.t], 4)
            let y = l.forward(x).clone()
            let dy: Tensor<T> = randomTensor(y.shape, 5)
            let dx = l.backward(dy).clone()
            return (y, dx, store.grads)
        }
        for c in [Shape(cin: 1, cout: 256, k: 512, s: 256, p: 128, t: 4096), Shape(cin: 1, cout: 64, k: 64, s: 32, p: 16, t: 2048),
                  Shape(cin: 1, cout: 32, k: 4, s: 2, p: 1, t: 1000), Shape(cin: 1, cout: 32, k: 1, s: 1, p: 0, t: 1000),
                  Shape(cin: 64, cout: 32, k: 16, s: 1, p: 0, t: 600)] {
            let (y64, dx64, g64) = run(Double.self, c, narrow: false)
            for narrow in [false, true] {
                let (y32, dx32, g32) = run(Float.self, c, narrow: narrow)
                assertClose(y32, y64.array, tol: 1e-5, "y \(c), narrow \(narrow)")
                assertClose(dx32, dx64.array, tol: 1e-5, "dx \(c), narrow \(narrow)")
                assertClose(g32, g64.array, tol: 1e-4, "parameter gradients \(c), narrow \(narrow)")
            }
        }
    }

    /// `upsample: sinc` removes the images a repeat leaves: a tone at 0.2 cycles per input sample,
    /// upsampled by 8 through the interpolation alone (the convolution reduced to picking one tap),
    /// keeps its level within 0.1 dB and its first image (at 0.8) falls below −40 dB; the nearest
    /// repeat, the control, leaves that image above −20 dB.
    func testSincUpsamplingRemovesImages() {
        let s = 8, L = 512, f = 0.2
        func levels(_ interpolation: UpsampleInterpolation) -> (tone: Double, image: Double) {
            let store = ParameterStore<Double>()
            let l = NearestUpsampleConv(store.root, 1, 1, stride: s, weightNorm: false, interpolation: interpolation)
            store.finalize(seed: 1)
            let w = l.conv.weight.weight!.value!
            for k in 0..<w.count { w[k] = k == s - 1 ? 1 : 0 }  // y[m] = u[m + s − 1], the interpolation at time m
            let x = Tensor<Double>((0..<L).map { sin(2 * Double.pi * f * Double($0)) }, shape: [1, 1, L])
            let y = l.forward(x)
            // Hann-windowed DFT of the middle half (away from the edges) at the tone and its image
            let a = L * s / 4, n = L * s / 2
            func level(_ cyclesPerOutput: Double) -> Double {
                var re = 0.0, im = 0.0
                for i in 0..<n {
                    let h = 0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n)), ph = 2 * Double.pi * cyclesPerOutput * Double(i)
                    re += h * y[a + i] * cos(ph); im -= h * y[a + i] * sin(ph)
                }
                return 20 * log10((re * re + im * im).squareRoot() / (Double(n) / 4))
            }
            return (level(f / Double(s)), level((1 - f) / Double(s)))
        }
        let sinc = levels(.sinc), nearest = levels(.nearest)
        XCTAssertEqual(sinc.tone, 0, accuracy: 0.1, "sinc: the tone's level")
        XCTAssertLessThan(sinc.image, -40, "sinc: the first image")
        XCTAssertGreaterThan(nearest.image, -20, "nearest: the first image (the control)")
    }

    /// Conv2d in Float against plain loops in Float64, split into many chunks of output rows
    /// (one chunk per row at the smallest), and its Float backward against its Float64 backward.
    func testConv2dMatchesNaiveLoopsInChunks() {
        let (b, cin, cout, h, w) = (3, 3, 4, 9, 17)
        let (kh, kw, sh, sw, dh, dw, ph, pw) = (3, 5, 1, 2, 2, 1, 2, 2)
        func run<T: TensorScalar>(_: T.Type, chunk: Int) -> (y: Tensor<T>, dx: Tensor<T>, grads: Tensor<T>, layer: Conv2d<T>, x: Tensor<T>) {
            let store = ParameterStore<T>()
            let l = Conv2d(store.root, cin, cout, kernel: (kh, kw), stride: (sh, sw), dilation: (dh, dw), padding: (ph, pw), weightNorm: true)
            store.finalize(seed: 21)
            l.chunkElements = chunk
            let x: Tensor<T> = randomTensor([b, cin, h, w], 6)
            let y = l.forward(x).clone()
            let dy: Tensor<T> = randomTensor(y.shape, 7)
            let dx = l.backward(dy).clone()
            return (y, dx, store.grads, l, x)
        }
        let ho = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1, wo = (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1
        for chunk in [1, 200, 1 << 17] {
            let f = run(Float.self, chunk: chunk), d = run(Double.self, chunk: chunk)
            XCTAssertEqual(f.y.shape, [b, cout, ho, wo])
            let wv = f.layer.weight.v!.value!, bias = f.layer.bias!.value!  // weight-norm init: effective weight = v
            var ref = [Double](repeating: 0, count: b * cout * ho * wo)
            for e in 0..<b { for o in 0..<cout { for r in 0..<ho { for c in 0..<wo {
                var s = Double(bias[o])
                for i in 0..<cin { for p in 0..<kh { for q in 0..<kw {
                    let iy = r * sh + p * dh - ph, ix = c * sw + q * dw - pw
                    guard iy >= 0 && iy < h && ix >= 0 && ix < w else { continue }
                    let wi: Int = ((o * cin + i) * kh + p) * kw + q, xi: Int = ((e * cin + i) * h + iy) * w + ix
                    s += Double(wv[wi]) * Double(f.x[xi])
                } } }
                let yi: Int = ((e * cout + o) * ho + r) * wo + c
                ref[yi] = s
            } } } }
            assertClose(f.y, ref, tol: 1e-5, "Conv2d forward, chunk \(chunk)")
            assertClose(f.dx, d.dx.array, tol: 1e-5, "Conv2d dx, chunk \(chunk)")
            assertClose(f.grads, d.grads.array, tol: 1e-4, "Conv2d parameter gradients, chunk \(chunk)")
        }
    }
}
