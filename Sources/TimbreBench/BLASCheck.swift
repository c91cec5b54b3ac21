import TimbreTensor

/// Correctness of `cblas_sgemm` on this CPU: products of several shapes, every transpose
/// combination, with leading dimensions larger than the matrices, against Float64 loops.
public enum BLASCheck {
    public static let shapes: [(m: Int, n: Int, k: Int)] = [(7, 5, 3), (67, 45, 33), (256, 256, 256), (130, 513, 97), (1, 300, 64)]

    /// Descriptions of the products whose relative error exceeded 1e-4.
    public static func run() -> [String] {
        var failures: [String] = []
        var rng = RandomStream(seed: 42)
        for (m, n, k) in shapes {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let (ar, ac) = ta ? (k, m) : (m, k), (br, bc) = tb ? (n, k) : (k, n)
                let lda = ac + 3, ldb = bc + 1, ldc = n + 2
                let a = Tensor<Float>(zeros: [ar * lda]), b = Tensor<Float>(zeros: [br * ldb]), c = Tensor<Float>(zeros: [m * ldc])
                rng.fillUniform(a, -1, 1); rng.fillUniform(b, -1, 1); rng.fillUniform(c, -1, 1)
                let c0 = c.array
                Float.gemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.75, a: a.data, lda: lda, b: b.data, ldb: ldb,
                           beta: 0.5, c: c.data, ldc: ldc)
                var worst = 0.0
                for i in 0..<m {
                    for j in 0..<n {
                        var s = 0.0
                        for p in 0..<k {
                            let av = ta ? a[p * lda + i] : a[i * lda + p]
                            let bv = tb ? b[j * ldb + p] : b[p * ldb + j]
                            s += Double(av) * Double(bv)
                        }
                        let ref = 0.75 * s + 0.5 * Double(c0[i * ldc + j])
                        worst = max(worst, abs(ref - Double(c[i * ldc + j])) / (1 + abs(ref)))
                    }
                }
                if !(worst <= 1e-4) {
                    failures.append("sgemm \(ta ? "T" : "N")\(tb ? "T" : "N") m=\(m) n=\(n) k=\(k): relative error \(worst)")
                }
            }
        }
        return failures
    }
}
