import TimbreTensor

/// An elementwise function with its derivative, for `Pointwise`.
public protocol PointwiseOp {
    static var name: String { get }
    static func value<T: TensorScalar>(_ x: T) -> T
    static func derivative<T: TensorScalar>(_ x: T) -> T
}

/// An elementwise activation `y = f(x)`, any shape; backward `dx = dy · f'(x)`. Saves `x`.
/// Large tensors are split over the cores; the op is a type parameter, so its function inlines
/// into the loop and vectorises.
public final class Pointwise<T: TensorScalar, Op: PointwiseOp> {
    var x: Tensor<T>?
    var y = Workspace<T>(), dx = Workspace<T>()
    public init() {}

    public func forward(_ x: Tensor<T>) -> Tensor<T> {
        self.x = x
        let y = self.y.get(x.shape)
        let ps = (x.data, y.data)
        Parallel.range(x.count, grain: Kernels.grain) { r in
            let (x, y) = ps
            for i in r { y[i] = Op.value(x[i]) }
        }
        return y
    }

    public func backward(_ dy: Tensor<T>) -> Tensor<T> {
        guard let x else { preconditionFailure("\(Op.name).backward before forward") }
        ShapeCheck.same(Op.name, "dy", dy, "x", x)
        let dx = self.dx.get(x.shape)
        let ps = (x.data, dy.data, dx.data)
        Parallel.range(x.count, grain: Kernels.grain) { r in
            let (x, dy, dx) = ps
            for i in r { dx[i] = dy[i] * Op.derivative(x[i]) }
        }
        return dx
    }
}

/// SiLU `y = x·σ(x)`, `y' = σ(x)·(1 + x·(1 − σ(x)))`.
public enum SiLUOp: PointwiseOp {
    public static var name: String { "SiLU" }
    @inlinable public static func value<T: TensorScalar>(_ x: T) -> T { x * T.sigmoid(x) }
    @inlinable public static func derivative<T: TensorScalar>(_ x: T) -> T { let s = T.sigmoid(x); return s * (1 + x * (1 - s)) }
}
public typealias SiLU<T: TensorScalar> = Pointwise<T, SiLUOp>

/// Softplus `y = log(1 + eˣ)` (PyTorch's beta 1, threshold 20: `y = x` above 20), `y' = σ(x)`.
public enum SoftplusOp: PointwiseOp {
    public static var name: String { "Softplus" }
    @inlinable public static func value<T: TensorScalar>(_ x: T) -> T { x > 20 ? x : T.log(1 + T.exp(x)) }
    @inlinable public static func derivative<T: TensorScalar>(_ x: T) -> T { x > 20 ? 1 : T.sigmoid(x) }
}
public typealias Softplus<T: TensorScalar> = Pointwise<T, SoftplusOp>

/// LeakyReLU with slope 0.2 below zero (the discriminator's activation, as EnCodec's):
/// `y = x` for x > 0, else `0.2·x`.
public enum LeakyReLUOp: PointwiseOp {
    public static var name: String { "LeakyReLU" }
    @inlinable public static func value<T: TensorScalar>(_ x: T) -> T { x > 0 ? x : 0.2 * x }
    @inlinable public static func derivative<T: TensorScalar>(_ x: T) -> T { x > 0 ? 1 : 0.2 }
}
public typealias LeakyReLU<T: TensorScalar> = Pointwise<T, LeakyReLUOp>

/// SnakeBeta (docs/design.md §2): `y = x + 1/(e^β + 1e-9) · sin²(e^α · x)` per channel.
///
/// Shapes: x `[B, C, T]` → y `[B, C, T]`; `alpha [C]`, `beta [C]` in log scale, init 0.
/// Backward with a = e^α, b = e^β, q = 1/(b + 1e-9):
/// `dx = dy·(1 + q·a·sin(2ax))`, `dα = Σ dy·q·a·x·sin(2ax)`, `dβ = −Σ dy·b·q²·sin²(ax)`.
public final class SnakeBeta<T: TensorScalar> {
    public let channels: Int
    public let alpha: Param<T>, beta: Param<T>
    var x: Tensor<T>?
    var y = Workspace<T>(), dx = Workspace<T>(), scratch = Workspace<T>()
    var rowGrads: [T] = []
    /// The parameters as a convolution reads them to apply this activation to its input
    /// (`Conv1d.forward(_:after:)`, inference).
    public var fused: ConvEngine<T>.Activation { (UnsafePointer(alpha.value.data), UnsafePointer(beta.value.data)) }

    /// Drops the kept input and the output buffer (inference, once the output has been read).
    public func releaseBuffers() { x = nil; y.release() }

    public init(_ scope: ParamScope<T>, _ channels: Int) {
        self.channels = channels
        alpha = scope.param("alpha", [channels], .snake, .zeros)
        beta = scope.param("beta", [channels], .snake, .zeros)
    }

    public func forward(_ x: Tensor<T>) -> Tensor<T> {
        precondition(x.rank == 3 && x.shape[1] == channels, "SnakeBeta(\(channels)): x must be [B, \(channels), T], got \(x.shape)")
        return LayerTimes.time("SnakeBeta forward", flops: 0) { activate(x) }
    }

    func activate(_ x: Tensor<T>) -> Tensor<T> {
        self.x = x
        let y = self.y.get(x.shape)
        let n = x.shape[2], c = channels
        let ps = (x.data, y.data, alpha.value.data, beta.value.data)
        Parallel.range(x.shape[0] * c, grain: max(1, Kernels.grain / max(n, 1))) { r in
            let (x, y, al, be) = ps
            for row in r {
                let ch = row % c
                let a = T.exp(al[ch]), q = 1 / (T.exp(be[ch]) + 1e-9)
                let xr = x + row * n, yr = y + row * n
                for t in 0..<n { let s = T.sin(a * xr[t]); yr[t] = xr[t] + q * s * s }
            }
        }
        return y
    }

    /// The input gradient, plus `residual` (same shape) when given: a residual connection's
    /// gradient sum without a pass of its own.
    public func backward(_ dy: Tensor<T>, adding residual: Tensor<T>? = nil) -> Tensor<T> {
        guard let x else { preconditionFailure("SnakeBeta.backward before forward") }
        ShapeCheck.same("SnakeBeta", "dy", dy, "x", x)
        if let residual { ShapeCheck.same("SnakeBeta", "residual", residual, "x", x) }
        return LayerTimes.time("SnakeBeta backward", flops: 0) { gradient(x, dy, residual) }
    }

    func gradient(_ x: Tensor<T>, _ dy: Tensor<T>, _ residual: Tensor<T>?) -> Tensor<T> {
        let dx = self.dx.get(x.shape)
        let n = x.shape[2], c = channels, rows = x.shape[0] * c
        rowGrads = [T](repeating: 0, count: 2 * rows)
        // Per-worker scratch rows hold the per-sample products so the two reductions run as
        // vectorised sums (a scalar float accumulator would serialise the loop). Float runs
        // 16 lanes at a time with explicit accumulators instead (`rowBackward`).
        let nw = Parallel.workers
        let tmp = T.self == Float.self ? scratch.get([0]) : scratch.get([nw, 2, n])
        rowGrads.withUnsafeMutableBufferPointer { rg in
            let ps = (x.data, dy.data, dx.data, alpha.value.data, beta.value.data, rg.baseAddress!, tmp.data,
                                        residual?.data)
            Parallel.items(rows, workers: nw) { row, w in
                let (x, dy, dx, al, be, rg, tmp, residual) = ps
                let ch = row % c
                let a = T.exp(al[ch]), b = T.exp(be[ch]), q = 1 / (b + 1e-9), qa = q * a
                let xr = x + row * n, dyr = dy + row * n, dxr = dx + row * n, rr = residual.map { $0 + row * n }
                let sums: (T, T)
                if T.self == Float.self {
                    let f = Self.rowBackward(x: xr.floats, dy: dyr.floats, dx: dxr.floats, residual: rr.map { $0.floats }, n: n,
                                             a: Float(a), qa: Float(qa))
                    sums = (T(f.0), T(f.1))
                } else {
                    let ta = tmp + w * 2 * n, tb = ta + n
                    for t in 0..<n {
                        let ax = a * xr[t]
                        let s = T.sin(ax), s2 = 2 * s * T.cos(ax)  // sin(2ax)
                        dxr[t] = dyr[t] * (1 + qa * s2) + (rr?[t] ?? 0)
                        ta[t] = dyr[t] * xr[t] * s2
                        tb[t] = dyr[t] * s * s
                    }
                    sums = (Kernels.rowSum(ta, n), Kernels.rowSum(tb, n))
                }
                rg[2 * row] = sums.0 * qa
                rg[2 * row + 1] = -sums.1 * b * q * q
            }
        }
        for row in 0..<rows {
            alpha.grad[row % c] += rowGrads[2 * row]
            beta.grad[row % c] += rowGrads[2 * row + 1]
        }
        return dx
    }

    /// One row of the Float backward, 16 lanes at a time: writes dx (+ residual) and returns
    /// (Σ dy·x·sin(2ax), Σ dy·sin²(ax)).
    @inline(__always)
    static func rowBackward(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                            residual: UnsafePointer<Float>?, n: Int, a: Float, qa: Float) -> (Float, Float) {
        typealias V = SIMD16<Float>
        func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        var sa = V(), sb = V(), t = 0
        while t + 16 <= n {
            let xv = load(x + t), dv = load(dy + t)
            let (s, c) = Float.sinCos(xv * a)
            let s2 = 2 * s * c
            var d = dv * (1 + qa * s2)
            if let residual { d += load(residual + t) }
            UnsafeMutableRawPointer(dx + t).storeBytes(of: d, as: V.self)
            sa = sa.addingProduct(dv * xv, s2)
            sb = sb.addingProduct(dv * s, s)
            t += 16
        }
        var ra = Kernels.lanesSum(sa), rb = Kernels.lanesSum(sb)
        while t < n {
            let ax = a * x[t], s = Float.sin(ax), s2 = 2 * s * Float.cos(ax)
            dx[t] = dy[t] * (1 + qa * s2) + (residual?[t] ?? 0)
            ra += dy[t] * x[t] * s2
            rb += dy[t] * s * s
            t += 1
        }
        return (ra, rb)
    }
}
