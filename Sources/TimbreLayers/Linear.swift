import TimbreTensor

/// `y = x · Wᵀ + b` over the last axis.
///
/// Shapes: x `[..., in]` → y `[..., out]`; `weight [out, in]`, `bias [out]` (PyTorch layout).
/// Init: PyTorch default, U(±1/√in) for weight and bias. Saves a reference to `x` for backward
/// (the caller must not modify `x` before `backward`).
public final class Linear<T: TensorScalar> {
    public let inFeatures: Int, outFeatures: Int
    public let weight: Param<T>
    public let bias: Param<T>?
    var x: Tensor<T>?
    var y = Workspace<T>(), dx = Workspace<T>()

    /// - Parameters:
    ///   - zeroInit: zero-initialise weight and bias (DiT output and gate projections, docs/design.md §3).
    public init(_ scope: ParamScope<T>, _ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, zeroInit: Bool = false) {
        self.inFeatures = inFeatures; self.outFeatures = outFeatures
        let bound = 1 / Double(inFeatures).squareRoot()
        weight = scope.param("weight", [outFeatures, inFeatures], .weight, zeroInit ? .zeros : .uniform(bound: bound))
        self.bias = bias ? scope.param("bias", [outFeatures], .bias, zeroInit ? .zeros : .uniform(bound: bound)) : nil
    }

    /// Shares another Linear's parameters (its gradients accumulate into the same buffers) but
    /// keeps its own activations, for a weight applied at two places in one graph.
    public init(sharing other: Linear<T>) {
        inFeatures = other.inFeatures; outFeatures = other.outFeatures
        weight = other.weight; bias = other.bias
    }

    public func forward(_ x: Tensor<T>) -> Tensor<T> {
        precondition(x.rank >= 1 && x.shape.last == inFeatures,
                     "Linear(\(inFeatures)→\(outFeatures)): x must be [..., \(inFeatures)], got \(x.shape)")
        self.x = x
        let rows = x.count / inFeatures
        let y = self.y.get(Array(x.shape.dropLast()) + [outFeatures])
        Matmul.timesTransposed(rows: rows, n: outFeatures, k: inFeatures, a: x.data, b: weight.value.data, c: y.data)
        if let b = bias { addRowVector(y.data, rows: rows, cols: outFeatures, b.value.data) }
        return y
    }

    /// Accumulates `dW += dyᵀ·x`, `db += Σ dy` and returns `dx = dy·W`.
    public func backward(_ dy: Tensor<T>) -> Tensor<T> {
        guard let x else { preconditionFailure("Linear.backward before forward") }
        precondition(dy.count == x.count / inFeatures * outFeatures && dy.shape.last == outFeatures,
                     "Linear(\(inFeatures)→\(outFeatures)): dy must be [..., \(outFeatures)] matching x \(x.shape), got \(dy.shape)")
        let rows = x.count / inFeatures
        T.gemm(transA: true, transB: false, m: outFeatures, n: inFeatures, k: rows, alpha: 1,
               a: dy.data, lda: outFeatures, b: x.data, ldb: inFeatures, beta: 1, c: weight.grad.data, ldc: inFeatures)
        if let b = bias { addColumnSums(dy.data, rows: rows, cols: outFeatures, into: b.grad.data) }
        let dx = self.dx.get(x.shape)
        T.gemm(transA: false, transB: false, m: rows, n: inFeatures, k: outFeatures, alpha: 1,
               a: dy.data, lda: outFeatures, b: weight.value.data, ldb: inFeatures, beta: 0, c: dx.data, ldc: inFeatures)
        return dx
    }
}

/// `y[r, :] += v` for every row r of a `[rows, cols]` matrix.
@inlinable
func addRowVector<T: TensorScalar>(_ y: UnsafeMutablePointer<T>, rows: Int, cols: Int, _ v: UnsafePointer<T>) {
    Parallel.range(rows, grain: max(1, Kernels.grain / max(cols, 1))) { r in
        for i in r { let row = y + i * cols; for j in 0..<cols { row[j] += v[j] } }
    }
}

/// `s[j] += Σ_r y[r, j]` for a `[rows, cols]` matrix.
@inlinable
func addColumnSums<T: TensorScalar>(_ y: UnsafePointer<T>, rows: Int, cols: Int, into s: UnsafeMutablePointer<T>) {
    for i in 0..<rows { let row = y + i * cols; for j in 0..<cols { s[j] += row[j] } }
}
