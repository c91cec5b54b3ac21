import TimbreTensor

/// 2-D convolution (cross-correlation, as PyTorch's `Conv2d`), for the multi-scale STFT
/// discriminator of docs/design.md §2's adversarial stage, whose inputs are `[B, C, frames, bins]`.
///
/// Shapes: x `[B, Cin, H, W]` → y `[B, Cout, Ho, Wo]` with
/// `Ho = ⌊(H + 2·ph − dh·(kh − 1) − 1)/sh⌋ + 1` (and `Wo` alike); `weight [Cout, Cin, kh, kw]` (or
/// `weight_g [Cout,1,1,1]` + `weight_v`), `bias [Cout]`.
/// `y[b,o,r,c] = bias[o] + Σ_{i,p,q} w[o,i,p,q] · x[b, i, r·sh + p·dh − ph, c·sw + q·dw − pw]`, zero padding.
/// Init: U(±1/√(Cin·kh·kw)) for weight and bias (PyTorch default).
///
/// Each chunk of output rows is one GEMM over an im2col matrix `cols [Cin·kh·kw, rows·Wo]`
/// sized to stay in cache. The forward splits (example × chunk) items over the cores; the
/// backward splits examples (chunks of one example overlap in the input rows they write), each
/// worker adding its weight gradient to a partial that is summed in worker order, so results do
/// not depend on timing.
public final class Conv2d<T: TensorScalar> {
    public let inChannels: Int, outChannels: Int
    public let kernel: (Int, Int), stride: (Int, Int), dilation: (Int, Int), padding: (Int, Int)
    public let weight: ConvWeight<T>
    public let bias: Param<T>?
    var x: Tensor<T>?
    var y = Workspace<T>(), dx = Workspace<T>()
    var w: Tensor<T>?
    var scratch = ScratchBuffers<T>()
    /// Target elements of one chunk's im2col matrix; tests lower it to force many chunks.
    public var chunkElements = 1 << 17

    public init(_ scope: ParamScope<T>, _ inChannels: Int, _ outChannels: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                dilation: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0), bias: Bool = true, weightNorm: Bool = false) {
        precondition(kernel.0 >= 1 && kernel.1 >= 1 && stride.0 >= 1 && stride.1 >= 1 && dilation.0 >= 1 && dilation.1 >= 1
                     && padding.0 >= 0 && padding.1 >= 0,
                     "Conv2d: kernel \(kernel), stride \(stride), dilation \(dilation), padding \(padding) out of range")
        self.inChannels = inChannels; self.outChannels = outChannels
        self.kernel = kernel; self.stride = stride; self.dilation = dilation; self.padding = padding
        let bound = 1 / Double(inChannels * kernel.0 * kernel.1).squareRoot()
        weight = ConvWeight(scope, shape: [outChannels, inChannels, kernel.0, kernel.1], bound: bound, weightNorm: weightNorm)
        self.bias = bias ? scope.param("bias", [outChannels], .bias, .uniform(bound: bound)) : nil
    }

    var name: String { "Conv2d(\(inChannels)→\(outChannels), k=\(kernel), s=\(stride), d=\(dilation), p=\(padding))" }

    public func outputSize(_ h: Int, _ w: Int) -> (Int, Int) {
        ((h + 2 * padding.0 - dilation.0 * (kernel.0 - 1) - 1) / stride.0 + 1,
         (w + 2 * padding.1 - dilation.1 * (kernel.1 - 1) - 1) / stride.1 + 1)
    }

    /// Rows of `cols`: Cin·kh·kw.
    var K: Int { inChannels * kernel.0 * kernel.1 }

    /// Output rows per chunk and the number of chunks.
    func chunks(_ ho: Int, _ wo: Int) -> (rows: Int, count: Int) {
        let rows = max(1, min(ho, chunkElements / max(1, K * wo)))
        return (rows, (ho + rows - 1) / rows)
    }

    /// The im2col map for output rows r0 ..< r0 + n of one example `[Cin, H, W]`:
    /// `cols[(i·kh + p)·kw + q, (r − r0)·Wo + c] = x[i, r·sh + p·dh − ph, c·sw + q·dw − pw]`.
    /// Calls `body(col, input, lo, hi)` once per row segment of `cols`: the segment starts at
    /// `cols + col`, and its columns c in lo..<hi read `x + input + c·sw` (the others, and the
    /// whole segment when `input` is nil, lie in the zero padding).
    func forEachSegment(h: Int, w: Int, wo: Int, r0: Int, n: Int, _ body: (_ col: Int, _ input: Int?, _ lo: Int, _ hi: Int) -> Void) {
        let (kh, kw) = kernel, (sh, sw) = stride, (dh, dw) = dilation, (ph, pw) = padding
        let ld = n * wo
        for i in 0..<inChannels {
            for p in 0..<kh {
                for q in 0..<kw {
                    let row = ((i * kh + p) * kw + q) * ld
                    // columns c with 0 ≤ c·sw + q·dw − pw < w
                    let off = q * dw - pw
                    let lo = min(wo, max(0, (-off + sw - 1) / sw)), hi = max(lo, min(wo, off >= w ? 0 : (w - 1 - off) / sw + 1))
                    for r in 0..<n {
                        let iy = (r0 + r) * sh + p * dh - ph
                        body(row + r * wo, iy >= 0 && iy < h ? (i * h + iy) * w + off : nil, lo, hi)
                    }
                }
            }
        }
    }

    /// Fills `cols` for output rows r0 ..< r0 + n of one example `x [Cin, H, W]` (`forEachSegment`).
    func im2col(_ x: UnsafePointer<T>, h: Int, w: Int, wo: Int, r0: Int, n: Int, into cols: UnsafeMutablePointer<T>) {
        let sw = stride.1
        forEachSegment(h: h, w: w, wo: wo, r0: r0, n: n) { col, input, lo, hi in
            let dst = cols + col
            guard let input else { dst.update(repeating: 0, count: wo); return }
            let src = x + input
            for c in 0..<lo { dst[c] = 0 }
            if sw == 1 { for c in lo..<hi { dst[c] = src[c] } } else { for c in lo..<hi { dst[c] = src[c * sw] } }
            for c in hi..<wo { dst[c] = 0 }
        }
    }

    /// The adjoint of `im2col`: dx[i, iy, ix] += cols[…] for every entry that maps inside.
    func col2im(_ cols: UnsafePointer<T>, h: Int, w: Int, wo: Int, r0: Int, n: Int, into dx: UnsafeMutablePointer<T>) {
        let sw = stride.1
        forEachSegment(h: h, w: w, wo: wo, r0: r0, n: n) { col, input, lo, hi in
            guard let input else { return }
            let src = cols + col, dst = dx + input
            if sw == 1 { for c in lo..<hi { dst[c] += src[c] } } else { for c in lo..<hi { dst[c * sw] += src[c] } }
        }
    }

    public func forward(_ x: Tensor<T>) -> Tensor<T> {
        precondition(x.rank == 4 && x.shape[1] == inChannels, "\(name): x must be [B, \(inChannels), H, W], got \(x.shape)")
        let (b, h, wd) = (x.shape[0], x.shape[2], x.shape[3])
        let (ho, wo) = outputSize(h, wd)
        precondition(ho >= 1 && wo >= 1, "\(name): input \(h)×\(wd) is too small (output \(ho)×\(wo))")
        self.x = x
        let w = weight.effective()
        self.w = w
        let y = self.y.get([b, outChannels, ho, wo])
        let (rows, count) = chunks(ho, wo)
        let items = b * count
        for k in 0..<min(Parallel.workers, items) { _ = scratch.buffer(k, K * rows * wo) }
        let ps = (x.data, w.data, y.data, bias?.value.data)
        let (K, cout, cin) = (self.K, outChannels, inChannels)
        BLAS.singleThreaded {
            Parallel.items(items) { item, k in
                let (x, w, y, bias) = ps
                let e = item / count, r0 = (item % count) * rows, n = min(ho, r0 + rows) - r0
                let cols = self.scratch[k].data
                self.im2col(x + e * cin * h * wd, h: h, w: wd, wo: wo, r0: r0, n: n, into: cols)
                let out = y + e * cout * ho * wo + r0 * wo
                if let bias { for o in 0..<cout { (out + o * ho * wo).update(repeating: bias[o], count: n * wo) } }
                T.gemm(transA: false, transB: false, m: cout, n: n * wo, k: K, alpha: 1, a: w, lda: K, b: cols, ldb: n * wo,
                       beta: bias == nil ? 0 : 1, c: out, ldc: ho * wo)
            }
        }
        return y
    }

    public func backward(_ dy: Tensor<T>) -> Tensor<T> {
        guard let x, let w else { preconditionFailure("\(name).backward before forward") }
        let (b, h, wd) = (x.shape[0], x.shape[2], x.shape[3])
        let (ho, wo) = outputSize(h, wd)
        precondition(dy.shape == [b, outChannels, ho, wo], "\(name): dy must be \([b, outChannels, ho, wo]), got \(dy.shape)")
        if let bias { addChannelSums(dy.data, batch: b, channels: outChannels, length: ho * wo, into: bias.grad.data) }
        let dx = self.dx.get(x.shape, zero: true)
        let (rows, count) = chunks(ho, wo)
        let nw = min(Parallel.workers, b)
        let (K, cout, cin) = (self.K, outChannels, inChannels)
        // worker k: scratch[3k] cols, scratch[3k + 1] dcols, scratch[3k + 2] its partial weight gradient
        for k in 0..<nw {
            _ = scratch.buffer(3 * k, K * rows * wo)
            _ = scratch.buffer(3 * k + 1, K * rows * wo)
            _ = scratch.buffer(3 * k + 2, cout * K)
            scratch[3 * k + 2].zero()
        }
        let ps = (x.data, w.data, dy.data, dx.data)
        BLAS.singleThreaded {
            Parallel.items(b, workers: nw) { e, k in
                let (x, w, dy, dx) = ps
                let cols = self.scratch[3 * k].data, dcols = self.scratch[3 * k + 1].data, dw = self.scratch[3 * k + 2].data
                for chunk in 0..<count {
                    let r0 = chunk * rows, n = min(ho, r0 + rows) - r0
                    let g = dy + e * cout * ho * wo + r0 * wo
                    self.im2col(x + e * cin * h * wd, h: h, w: wd, wo: wo, r0: r0, n: n, into: cols)
                    T.gemm(transA: false, transB: true, m: cout, n: K, k: n * wo, alpha: 1, a: g, lda: ho * wo, b: cols, ldb: n * wo,
                           beta: 1, c: dw, ldc: K)
                    T.gemm(transA: true, transB: false, m: K, n: n * wo, k: cout, alpha: 1, a: w, lda: K, b: g, ldb: ho * wo,
                           beta: 0, c: dcols, ldc: n * wo)
                    self.col2im(dcols, h: h, w: wd, wo: wo, r0: r0, n: n, into: dx + e * cin * h * wd)
                }
            }
        }
        let target = weight.gradientTarget()
        for k in 0..<nw { Kernels.axpy(cout * K, 1, scratch[3 * k + 2].data, target) }
        weight.finishBackward()
        return dx
    }
}
