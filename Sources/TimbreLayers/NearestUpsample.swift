import TimbreTensor

/// Nearest-neighbour upsampling by `stride` followed by `Conv1d(Cin → Cout, k = 2·stride)` with
/// PyTorch's 'same' padding (left `stride − 1`, right `stride`), without bias, as
/// stable-audio-tools' `use_nearest_upsample`. No checkerboard by construction: every output
/// sample sees the same number of input frames.
///
/// Shapes: x `[B, Cin, T]` → y `[B, Cout, T·stride]`. The repeat writes the zero padding with it
/// (`u [B, Cin, T·s + 2s − 1]`, `u[s − 1 + t·s + q] = x[t]`), so the convolution has none.
/// Backward of the repeat: `dx[t] = Σ_q du[s − 1 + t·s + q]`.
/// Names: the convolution's (`weight`, or `weight_g` and `weight_v`), in the given scope.
public final class NearestUpsampleConv<T: TensorScalar> {
    public let stride: Int
    public let conv: Conv1d<T>
    var u = Workspace<T>(), dx = Workspace<T>()
    var inShape: [Int] = []

    public init(_ scope: ParamScope<T>, _ inChannels: Int, _ outChannels: Int, stride: Int, weightNorm: Bool) {
        precondition(stride >= 1, "NearestUpsampleConv: stride \(stride)")
        self.stride = stride
        conv = Conv1d(scope, inChannels, outChannels, kernel: 2 * stride, bias: false, weightNorm: weightNorm)
    }

    public var keepsInput: Bool {
        get { conv.keepsInput }
        set { conv.keepsInput = newValue }
    }

    public func releaseBuffers() { conv.releaseBuffers(); u.release(); dx.release() }

    /// With `snake` (inference only), the activation is applied as the convolution reads the
    /// repeated signal (snake(0) = 0, so the padding is unchanged).
    public func forward(_ x: Tensor<T>, after snake: SnakeBeta<T>? = nil) -> Tensor<T> {
        precondition(x.rank == 3 && x.shape[1] == conv.inChannels, "NearestUpsampleConv: x must be [B, \(conv.inChannels), T], got \(x.shape)")
        let (B, C, L, s) = (x.shape[0], x.shape[1], x.shape[2], stride)
        inShape = x.shape
        let n = L * s + 2 * s - 1
        let u = self.u.get([B, C, n])
        let xs = UncheckedSendable(x.data), us = UncheckedSendable(u.data)
        Parallel.range(B * C, grain: max(1, Kernels.grain / max(n, 1))) { rows in
            for row in rows {
                let src = xs.value + row * L, dst = us.value + row * n
                dst.update(repeating: 0, count: s - 1)
                for t in 0..<L { (dst + s - 1 + t * s).update(repeating: src[t], count: s) }
                (dst + s - 1 + L * s).update(repeating: 0, count: s)
            }
        }
        let y = conv.forward(u, after: snake)
        if !keepsInput { self.u.release() }
        return y
    }

    public func backward(_ dy: Tensor<T>) -> Tensor<T> {
        let du = conv.backward(dy)
        let (B, C, L, s) = (inShape[0], inShape[1], inShape[2], stride)
        let n = L * s + 2 * s - 1
        let dx = self.dx.get(inShape)
        let ds = UncheckedSendable(du.data), xs = UncheckedSendable(dx.data)
        Parallel.range(B * C, grain: max(1, Kernels.grain / max(n, 1))) { rows in
            for row in rows {
                let src = ds.value + row * n + s - 1, dst = xs.value + row * L
                for t in 0..<L { dst[t] = Kernels.rowSum(src + t * s, s) }
            }
        }
        return dx
    }
}
