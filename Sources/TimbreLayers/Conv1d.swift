import TimbreTensor

/// What `Conv1d` and `ConvTranspose1d` share: the weight (optionally weight-normalised) and bias,
/// the engine that keeps the weights packed, the activation buffers and the inference switch.
public class ConvLayer<T: TensorScalar> {
    public final let weight: ConvWeight<T>
    public final let bias: Param<T>?
    public final let engine = ConvEngine<T>()
    final var x: Tensor<T>?
    final var y = Workspace<T>(), dx = Workspace<T>()
    final var w: Tensor<T>?
    /// False for inference: forward keeps no reference to its input (no backward possible), and
    /// the weights are taken to be fixed: their effective (weight-normalised) and packed forms
    /// are made once, until `weightsChanged()` or the mode changes.
    public final var keepsInput = true {
        didSet { weightsChanged() }
    }

    /// Registers `weight` then `bias` `[outChannels]` in `scope`, both drawn from U(±bound).
    init(_ scope: ParamScope<T>, weightShape: [Int], outChannels: Int, bound: Double, bias: Bool, weightNorm: Bool) {
        weight = ConvWeight(scope, shape: weightShape, bound: bound, weightNorm: weightNorm)
        self.bias = bias ? scope.param("bias", [outChannels], .bias, .uniform(bound: bound)) : nil
    }

    /// Frees the output and gradient buffers (inference: the next layer has consumed the output).
    public final func releaseBuffers() { y.release(); dx.release() }

    /// Drops the weights' cached forms (call after changing the weights in inference mode).
    public final func weightsChanged() { weight.fixed = !keepsInput; engine.weightsVersion &+= 1 }
}

/// 1-D convolution (cross-correlation, as PyTorch).
///
/// Shapes: x `[B, Cin, Tin]` → y `[B, Cout, Tout]`, `Tout = ⌊(Tin + 2p − d(k−1) − 1)/s⌋ + 1`;
/// `weight [Cout, Cin, k]` (or `weight_g [Cout,1,1]` + `weight_v`), `bias [Cout]`.
/// `y[b,o,t] = bias[o] + Σ_{i,j} w[o,i,j] · x[b, i, t·s + j·d − p]` with zero padding.
/// Init: U(±1/√(Cin·k)) for weight and bias (PyTorch default).
public final class Conv1d<T: TensorScalar>: ConvLayer<T> {
    public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, dilation: Int, padding: Int

    public init(_ scope: ParamScope<T>, _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1,
                dilation: Int = 1, padding: Int = 0, bias: Bool = true, weightNorm: Bool = false) {
        precondition(kernel >= 1 && stride >= 1 && dilation >= 1 && padding >= 0,
                     "Conv1d: kernel \(kernel), stride \(stride), dilation \(dilation), padding \(padding) out of range")
        self.inChannels = inChannels; self.outChannels = outChannels; self.kernel = kernel
        self.stride = stride; self.dilation = dilation; self.padding = padding
        super.init(scope, weightShape: [outChannels, inChannels, kernel], outChannels: outChannels,
                   bound: 1 / Double(inChannels * kernel).squareRoot(), bias: bias, weightNorm: weightNorm)
    }

    public func outputLength(_ tin: Int) -> Int { (tin + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1 }

    var name: String { "Conv1d(\(inChannels)→\(outChannels), k=\(kernel), s=\(stride), d=\(dilation), p=\(padding))" }

    func geometry(_ b: Int, _ tin: Int) -> ConvGeometry {
        ConvGeometry(C: inChannels, L: tin, M: outChannels, T: outputLength(tin), k: kernel, s: stride, d: dilation, p: padding)
    }

    /// The convolution of `x`, plus `residual` (same shape as the output) when given: a residual
    /// connection's sum without a pass of its own (its gradient is the caller's to route).
    /// With `snake` (inference only), the convolution of `snake.forward(x)`, the activation
    /// applied as the input is read, so its output is never written out.
    public func forward(_ x: Tensor<T>, adding residual: Tensor<T>? = nil, after snake: SnakeBeta<T>? = nil) -> Tensor<T> {
        checkFused(snake, name: name, channels: inChannels, inference: !keepsInput)
        precondition(x.rank == 3 && x.shape[1] == inChannels, "\(name): x must be [B, \(inChannels), T], got \(x.shape)")
        let (b, tin) = (x.shape[0], x.shape[2])
        let g = geometry(b, tin)
        precondition(g.T >= 1, "\(name): input length \(tin) is too short (output length \(g.T))")
        precondition(residual.map { $0.shape == [b, outChannels, g.T] } ?? true,
                     "\(name): residual must be \([b, outChannels, g.T]), got \(residual!.shape)")
        self.x = keepsInput ? x : nil
        if keepsInput { engine.weightsVersion &+= 1 }  // training: the weights may have changed since the last forward
        let w = weight.effective()
        self.w = w
        let y = self.y.get([b, outChannels, g.T])
        engine.gather(g, batch: b, A: w.data, signal: x.data, response: y.data, bias: bias?.value.data, residual: residual?.data,
                      snake: snake?.fused)
        return y
    }

    public func backward(_ dy: Tensor<T>) -> Tensor<T> {
        guard let x, let w else { preconditionFailure("\(name).backward before forward") }
        let (b, tin) = (x.shape[0], x.shape[2])
        let g = geometry(b, tin)
        precondition(dy.shape == [b, outChannels, g.T], "\(name): dy must be \([b, outChannels, g.T]), got \(dy.shape)")
        if let bias { addChannelSums(dy.data, batch: b, channels: outChannels, length: g.T, into: bias.grad.data) }
        engine.weightGrad(g, batch: b, response: dy.data, signal: x.data, dA: weight.gradientTarget())
        weight.finishBackward()
        let dx = self.dx.get(x.shape, zero: true)
        engine.scatter(g, batch: b, A: w.data, response: dy.data, signal: dx.data)
        return dx
    }
}

/// 1-D transposed convolution (the adjoint of Conv1d, as PyTorch's ConvTranspose1d).
///
/// Shapes: x `[B, Cin, Tin]` → y `[B, Cout, Tout]`,
/// `Tout = (Tin − 1)·s − 2p + d(k−1) + outputPadding + 1`; `weight [Cin, Cout, k]`
/// (or `weight_g [Cin,1,1]` + `weight_v`), `bias [Cout]`.
/// `y[b, o, t·s + j·d − p] += w[i,o,j] · x[b,i,t]`. Init: U(±1/√(Cout·k)) (PyTorch computes fan-in
/// from dim 1 of the weight).
public final class ConvTranspose1d<T: TensorScalar>: ConvLayer<T> {
    public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, dilation: Int, padding: Int, outputPadding: Int

    public init(_ scope: ParamScope<T>, _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1,
                dilation: Int = 1, padding: Int = 0, outputPadding: Int = 0, bias: Bool = true, weightNorm: Bool = false) {
        precondition(kernel >= 1 && stride >= 1 && dilation >= 1 && padding >= 0 && outputPadding >= 0
                     && outputPadding < max(stride, dilation),
                     "ConvTranspose1d: kernel \(kernel), stride \(stride), dilation \(dilation), padding \(padding), output padding \(outputPadding) out of range")
        self.inChannels = inChannels; self.outChannels = outChannels; self.kernel = kernel
        self.stride = stride; self.dilation = dilation; self.padding = padding; self.outputPadding = outputPadding
        super.init(scope, weightShape: [inChannels, outChannels, kernel], outChannels: outChannels,
                   bound: 1 / Double(outChannels * kernel).squareRoot(), bias: bias, weightNorm: weightNorm)
    }

    public func outputLength(_ tin: Int) -> Int {
        (tin - 1) * stride - 2 * padding + dilation * (kernel - 1) + outputPadding + 1
    }

    var name: String { "ConvTranspose1d(\(inChannels)→\(outChannels), k=\(kernel), s=\(stride), d=\(dilation), p=\(padding))" }

    func geometry(_ tin: Int) -> ConvGeometry {
        ConvGeometry(C: outChannels, L: outputLength(tin), M: inChannels, T: tin, k: kernel, s: stride, d: dilation, p: padding)
    }

    /// The transposed convolution of `x`, or with `snake` (inference only) of `snake.forward(x)`,
    /// the activation applied as the input is read.
    public func forward(_ x: Tensor<T>, after snake: SnakeBeta<T>? = nil) -> Tensor<T> {
        checkFused(snake, name: name, channels: inChannels, inference: !keepsInput)
        precondition(x.rank == 3 && x.shape[1] == inChannels, "\(name): x must be [B, \(inChannels), T], got \(x.shape)")
        let (b, tin) = (x.shape[0], x.shape[2])
        let g = geometry(tin)
        precondition(g.L >= 1, "\(name): input length \(tin) gives output length \(g.L)")
        self.x = keepsInput ? x : nil
        if keepsInput { engine.weightsVersion &+= 1 }  // training: the weights may have changed since the last forward
        let w = weight.effective()
        self.w = w
        let y = self.y.get([b, outChannels, g.L], zero: bias == nil)
        if let bias { fillChannelBias(y.data, batch: b, channels: outChannels, length: g.L, bias.value.data) }  // the products accumulate onto it
        engine.scatter(g, batch: b, A: w.data, response: x.data, signal: y.data,
                       snake: snake?.fused)
        return y
    }

    public func backward(_ dy: Tensor<T>) -> Tensor<T> {
        guard let x, let w else { preconditionFailure("\(name).backward before forward") }
        let (b, tin) = (x.shape[0], x.shape[2])
        let g = geometry(tin)
        precondition(dy.shape == [b, outChannels, g.L], "\(name): dy must be \([b, outChannels, g.L]), got \(dy.shape)")
        if let bias { addChannelSums(dy.data, batch: b, channels: outChannels, length: g.L, into: bias.grad.data) }
        engine.weightGrad(g, batch: b, response: x.data, signal: dy.data, dA: weight.gradientTarget())
        weight.finishBackward()
        let dx = self.dx.get(x.shape)
        engine.gather(g, batch: b, A: w.data, signal: dy.data, response: dx.data)
        return dx
    }
}

/// A fused activation needs inference mode (nothing is kept for its backward) and the input's channels.
func checkFused<T: TensorScalar>(_ snake: SnakeBeta<T>?, name: @autoclosure () -> String, channels: Int, inference: Bool) {
    guard let snake else { return }
    precondition(inference, "\(name()): a fused activation is for inference only (keepsInput false)")
    precondition(snake.channels == channels, "\(name()): the activation has \(snake.channels) channels, not \(channels)")
}

/// y[b, c, t] = bias[c]
@inlinable
func fillChannelBias<T: TensorScalar>(_ y: UnsafeMutablePointer<T>, batch: Int, channels: Int, length: Int, _ bias: UnsafePointer<T>) {
    Parallel.range(batch * channels, grain: max(1, Kernels.grain / max(length, 1))) { r in
        for row in r { (y + row * length).update(repeating: bias[row % channels], count: length) }
    }
}

/// s[c] += Σ_{b,t} y[b, c, t]
@inlinable
func addChannelSums<T: TensorScalar>(_ y: UnsafePointer<T>, batch: Int, channels: Int, length: Int, into s: UnsafeMutablePointer<T>) {
    for row in 0..<batch * channels {
        s[row % channels] += Kernels.rowSum(y + row * length, length)
    }
}

/// Frees each layer's buffers once the next layer has consumed its output (inference): a
/// one-shot run then touches the memory of a few activations instead of all of them, and fresh
/// pages are slow to fault in (docs/design.md §8). Use: `h = r.after(layer.forward(h), layer.releaseBuffers)`;
/// the last layer's buffers stay (they hold the result).
public struct BufferReleaser {
    let active: Bool
    var pending: (() -> Void)?
    public init(active: Bool) { self.active = active }
    public mutating func after<T>(_ y: Tensor<T>, _ release: @escaping () -> Void) -> Tensor<T> {
        if active { pending?(); pending = release }
        return y
    }
}
