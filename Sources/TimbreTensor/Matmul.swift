/// Matrix products on tensors, through `TensorScalar.gemm`.
public enum Matmul {
    /// `C[b] = alpha · op(A[b]) · op(B[b]) + beta · C[b]` for b in 0..<batch, where the b-th
    /// matrices start `strideA`, `strideB`, `strideC` elements apart (a stride of 0 broadcasts one
    /// matrix to every batch entry). Batch entries run in parallel, each on single-threaded BLAS,
    /// so small products (attention heads, per-example projections) use every core.
    @inlinable
    public static func batched<T: TensorScalar>(
        batch: Int, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: T = 1,
        a: UnsafePointer<T>, lda: Int, strideA: Int, b: UnsafePointer<T>, ldb: Int, strideB: Int,
        beta: T = 0, c: UnsafeMutablePointer<T>, ldc: Int, strideC: Int
    ) {
        precondition(strideC != 0 || batch <= 1, "Matmul.batched: outputs of different batch entries would overlap (strideC = 0)")
        let ps = UncheckedSendable((a, b, c))
        BLAS.singleThreaded {
            Parallel.items(batch) { i, _ in
                let (a, b, c) = ps.value
                T.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a + i * strideA, lda: lda,
                       b: b + i * strideB, ldb: ldb, beta: beta, c: c + i * strideC, ldc: ldc)
            }
        }
    }

    /// `op(A) · op(B)` for rank-2 tensors, or for rank-3 tensors `[batch, rows, cols]` per batch
    /// entry (a rank-2 operand is broadcast). Shapes are checked and named in the message.
    public static func product<T: TensorScalar>(_ A: Tensor<T>, _ B: Tensor<T>, transA: Bool = false, transB: Bool = false) -> Tensor<T> {
        precondition((2...3).contains(A.rank) && (2...3).contains(B.rank), "Matmul: operands must be rank 2 or 3, got \(A.shape) and \(B.shape)")
        let ba = A.rank == 3 ? A.shape[0] : 1, bb = B.rank == 3 ? B.shape[0] : 1
        precondition(ba == bb || ba == 1 || bb == 1, "Matmul: batch sizes \(ba) and \(bb) do not broadcast (\(A.shape) × \(B.shape))")
        let (ar, ac) = (A.shape[A.rank - 2], A.shape[A.rank - 1]), (br, bc) = (B.shape[B.rank - 2], B.shape[B.rank - 1])
        let (m, k) = transA ? (ac, ar) : (ar, ac)
        let (k2, n) = transB ? (bc, br) : (br, bc)
        precondition(k == k2, "Matmul: inner dimensions differ: op(A) is \(m)×\(k), op(B) is \(k2)×\(n) (shapes \(A.shape) × \(B.shape))")
        let batch = max(ba, bb)
        let C = Tensor<T>(zeros: A.rank == 3 || B.rank == 3 ? [batch, m, n] : [m, n])
        batched(batch: batch, transA: transA, transB: transB, m: m, n: n, k: k,
                a: A.data, lda: ac, strideA: ba == 1 ? 0 : ar * ac, b: B.data, ldb: bc, strideB: bb == 1 ? 0 : br * bc,
                c: C.data, ldc: n, strideC: m * n)
        return C
    }
}
