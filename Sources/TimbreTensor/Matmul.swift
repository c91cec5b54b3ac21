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
        let ps = (a, b, c)
        BLAS.singleThreaded {
            Parallel.items(batch) { i, _ in
                let (a, b, c) = ps
                T.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a + i * strideA, lda: lda,
                       b: b + i * strideB, ldb: ldb, beta: beta, c: c + i * strideC, ldc: ldc)
            }
        }
    }

    /// `C = A · Bᵀ` for row-major `A [rows, k]`, `B [n, k]`, `C [rows, n]` (a linear layer's
    /// `x · Wᵀ`). Products of fewer than `ownThreadsBelow` rows have their n output columns
    /// split evenly over the cores (at least `minColumns` each, so each part reads its own share
    /// of the weights and all of `A`), every part on single-threaded BLAS; larger ones use
    /// OpenBLAS's threads.
    ///
    /// Why: after each multi-threaded call OpenBLAS's worker thread spins (`sched_yield`) for up
    /// to ~0.1 s waiting for the next one, competing for the cores with the layers' own parallel
    /// loops. In MM-DiT sampling (products of 1–450 rows between many small loops) that made the
    /// attention layers take 0.53–0.64 s instead of 0.36–0.40 s (16 design steps), and the VAE
    /// decode after sampling up to 0.4 s slower. Training's products (thousands of rows) are
    /// left to OpenBLAS: split this way their forward measured no faster.
    @inlinable
    public static func timesTransposed<T: TensorScalar>(rows: Int, n: Int, k: Int, a: UnsafePointer<T>, b: UnsafePointer<T>,
                                                        c: UnsafeMutablePointer<T>, minColumns: Int = 64, ownThreadsBelow: Int = 1024) {
        if rows >= ownThreadsBelow {
            T.gemm(transA: false, transB: true, m: rows, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: k, beta: 0, c: c, ldc: n)
            return
        }
        let parts = max(1, min(Parallel.workers, n / max(minColumns, 1)))
        let ps = (a, b, c)
        BLAS.singleThreaded {
            Parallel.items(parts) { i, _ in
                let (a, b, c) = ps
                let n0 = n * i / parts, n1 = n * (i + 1) / parts
                T.gemm(transA: false, transB: true, m: rows, n: n1 - n0, k: k, alpha: 1, a: a, lda: k,
                       b: b + n0 * k, ldb: k, beta: 0, c: c + n0, ldc: n)
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
