import Foundation
import XCTest
import TimbreTensor

final class TensorTests: XCTestCase {
    func testViewsShareStorageAndResizeReuses() {
        let t = Tensor<Float>([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let v = t.view(offset: 3, shape: [3])
        v[0] = 40
        XCTAssertEqual(t[3], 40)
        let p = t.data
        t.resize([3])
        XCTAssertEqual(t.data, p, "shrinking must not re-allocate")
        t.resize([7], zero: true)
        XCTAssertEqual(t.array, [Float](repeating: 0, count: 7))
        XCTAssertEqual(t.converted(to: Double.self).shape, [7])
    }

    /// Every transpose combination, with leading dimensions wider than the matrices, in both
    /// precisions, against a triple loop.
    /// Large buffers go back to a pool and come out again for the next tensor of their size
    /// class, zero-filled as a new tensor must be.
    func testLargeBuffersAreReusedZeroFilled() {
        var a: Tensor<Float>? = Tensor(filled: 7, shape: [300_000])  // 1.2 MB: pooled
        let address = a!.data
        a = nil
        let b = Tensor<Float>(zeros: [299_990])
        XCTAssertEqual(b.data, address, "a freed buffer of the same size class is reused")
        XCTAssertTrue(b.array.allSatisfy { $0 == 0 })
        let c = Tensor<Double>(filled: 3, shape: [10])
        c.resize([200_000], zero: true)
        XCTAssertEqual(c.count, 200_000)
        XCTAssertTrue(c.array.allSatisfy { $0 == 0 })
    }

    func testGemmAllTransposes() {
        func check<T: TensorScalar>(_: T.Type, tol: Double) {
            var rng = RandomStream(seed: 1)
            for (m, n, k) in [(3, 5, 4), (17, 9, 33), (64, 70, 1)] {
                for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                    let lda = (ta ? m : k) + 2, ldb = (tb ? k : n) + 1, ldc = n + 3
                    let a = Tensor<T>(zeros: [(ta ? k : m) * lda]), b = Tensor<T>(zeros: [(tb ? n : k) * ldb])
                    let c = Tensor<T>(zeros: [m * ldc])
                    rng.fillNormal(a); rng.fillNormal(b); rng.fillNormal(c)
                    let c0 = c.array
                    T.gemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 2, a: a.data, lda: lda, b: b.data, ldb: ldb,
                           beta: -1, c: c.data, ldc: ldc)
                    for i in 0..<m {
                        for j in 0..<n {
                            var s = 0.0
                            for p in 0..<k {
                                s += Double(ta ? a[p * lda + i] : a[i * lda + p]) * Double(tb ? b[j * ldb + p] : b[p * ldb + j])
                            }
                            let ref = 2 * s - Double(c0[i * ldc + j])
                            XCTAssertEqual(Double(c[i * ldc + j]), ref, accuracy: tol * (1 + abs(ref)), "\(T.typeName) \(ta)\(tb) \(m)×\(n)×\(k)")
                        }
                        // padding columns untouched
                        for j in n..<ldc { XCTAssertEqual(c[i * ldc + j], c0[i * ldc + j]) }
                    }
                }
            }
        }
        check(Float.self, tol: 1e-5)
        check(Double.self, tol: 1e-12)
    }

    /// `Matmul.timesTransposed` (a linear layer's x·Wᵀ) against a triple loop: split over the
    /// cores by columns (uneven split, more than one part), a single part, and the OpenBLAS path
    /// for many rows.
    func testTimesTransposedMatchesLoop() {
        var rng = RandomStream(seed: 4)
        for (rows, n, k, below) in [(5, 301, 17, 1024), (3, 40, 9, 1024), (7, 130, 5, 4)] {
            let a = Tensor<Float>(zeros: [rows, k]), b = Tensor<Float>(zeros: [n, k])
            let c = Tensor<Float>(filled: .nan, shape: [rows, n])  // every element must be written
            rng.fillNormal(a); rng.fillNormal(b)
            Matmul.timesTransposed(rows: rows, n: n, k: k, a: a.data, b: b.data, c: c.data, ownThreadsBelow: below)
            for i in 0..<rows {
                for j in 0..<n {
                    var s = 0.0
                    for p in 0..<k { s += Double(a[i * k + p]) * Double(b[j * k + p]) }
                    XCTAssertEqual(Double(c[i * n + j]), s, accuracy: 1e-5 * (1 + abs(s)), "\(rows)×\(n)×\(k) [\(i), \(j)]")
                }
            }
        }
    }

    func testFastExpAccuracy() {
        var worst = 0.0
        var x: Float = -86.5
        while x < 88.5 {
            let ref = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(Float.exp(x)) - ref) / ref)
            x += 0.0137
        }
        XCTAssertLessThan(worst, 4e-7, "fast exp max relative error")
        XCTAssertEqual(Float.exp(0), 1)
        XCTAssertTrue(Float.exp(-1000) < 1e-37)
        XCTAssertTrue(Float.exp(1000).isFinite)
    }

    func testFastSinCosAccuracy() {
        var worst = 0.0
        var x: Float = -2000
        while x < 2000 {
            worst = max(worst, abs(Double(Float.sin(x)) - Foundation.sin(Double(x))), abs(Double(Float.cos(x)) - Foundation.cos(Double(x))))
            x += 0.0731
        }
        XCTAssertLessThan(worst, 5e-7, "fast sin/cos max absolute error")
        XCTAssertEqual(Float.sin(0), 0)
        XCTAssertEqual(Float.sin(-1e-20), -1e-20)
    }

    func testRandomStreamRestoresExactly() throws {
        var a = RandomStream(seed: 7, 3, 2)
        for _ in 0..<5 { _ = a.nextUInt32() }  // mid-block
        let saved = try JSONEncoder().encode(a)
        let next = (0..<10).map { _ in a.normal() }
        var b = try JSONDecoder().decode(RandomStream.self, from: saved)
        XCTAssertEqual((0..<10).map { _ in b.normal() }, next)
        // identifiers select independent streams; same identifiers, same numbers
        var c = RandomStream(seed: 7, 3, 2), d = RandomStream(seed: 7, 3, 3), e = RandomStream(seed: 7, 3, 2)
        let (cu, du, eu) = (c.nextUInt32(), d.nextUInt32(), e.nextUInt32())
        XCTAssertNotEqual(cu, du)
        XCTAssertEqual(cu, eu)
    }

    func testRandomDistributions() {
        var r = RandomStream(seed: 11)
        let n = 200_000
        var s = 0.0, s2 = 0.0, u = 0.0
        for _ in 0..<n { let x = r.normal(); s += x; s2 += x * x; u += Double(r.uniform()) }
        XCTAssertEqual(s / Double(n), 0, accuracy: 0.01)
        XCTAssertEqual(s2 / Double(n), 1, accuracy: 0.01)
        XCTAssertEqual(u / Double(n), 0.5, accuracy: 0.005)
        for _ in 0..<1000 { let v = r.uniform(); XCTAssertTrue(v >= 0 && v < 1) }
        // integers below n: every value reached, roughly uniformly
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { counts[r.int(below: 7)] += 1 }
        XCTAssertTrue(counts.allSatisfy { abs($0 - 10_000) < 500 }, "\(counts)")
    }

    func testParameterStoreFlatBuffersAndInit() {
        let store = ParameterStore<Float>()
        let s = store.root.child("encoder").child(2)
        let g = s.param("weight_g", [3, 1, 1], .gain, .weightNormGain(of: s.name("weight_v")))
        let v = s.param("weight_v", [3, 4, 5], .weight, .uniform(bound: 0.5))
        let n = store.root.param("norm.weight", [4], .norm, .constant(1))
        store.finalize(seed: 9)
        XCTAssertEqual(store.count, 3 + 60 + 4)
        XCTAssertEqual(v.name, "encoder.2.weight_v")
        XCTAssertEqual(store.values.data + v.offset, v.value.data, "a parameter is a view into the flat buffer")
        XCTAssertEqual(store.grads.data + v.offset, v.grad.data)
        XCTAssertEqual(n.value.array, [1, 1, 1, 1])
        XCTAssertTrue(v.value.array.allSatisfy { abs($0) <= 0.5 } && v.value.array.contains { $0 != 0 })
        for o in 0..<3 {
            let norm = (0..<20).map { Double(v.value[o * 20 + $0]) }.reduce(0) { $0 + $1 * $1 }.squareRoot()
            XCTAssertEqual(Double(g.value[o]), norm, accuracy: 1e-5, "g = ‖v‖ at init")
        }
        // initial values depend on (seed, name) only
        let other = ParameterStore<Float>()
        _ = other.root.param("unrelated", [10], .weight, .uniform(bound: 1))
        let v2 = other.root.child("encoder").child(2).param("weight_v", [3, 4, 5], .weight, .uniform(bound: 0.5))
        other.finalize(seed: 9)
        XCTAssertEqual(v2.value.array, v.value.array)
    }

    func testKernelsAndNonFiniteDetection() {
        let n = 300_001
        let x = Tensor<Float>(filled: 0.5, shape: [n]), y = Tensor<Float>(filled: 2, shape: [n])
        XCTAssertEqual(Kernels.sum(n, x.data), 0.5 * Double(n), accuracy: 1e-6 * Double(n))
        XCTAssertEqual(Kernels.dot(n, x.data, y.data), Double(n), accuracy: 1e-6 * Double(n))
        Kernels.axpy(n, 3, x.data, y.data)
        XCTAssertEqual(y[n - 1], 3.5)
        XCTAssertNil(Kernels.firstNonFinite(n, y.data))
        y[123_457] = .nan
        y[200_000] = .infinity
        XCTAssertEqual(Kernels.firstNonFinite(n, y.data), 123_457)
        XCTAssertTrue(Kernels.maxAbs(n, y.data).isNaN)
        let row: [Float] = (0..<37).map { Float($0 % 11) - 3.5 }
        row.withUnsafeBufferPointer { p in
            XCTAssertEqual(Kernels.rowMax(p.baseAddress!, 37), 6.5)
            XCTAssertEqual(Kernels.rowSum(p.baseAddress!, 37), row.reduce(0, +), accuracy: 1e-4)
            XCTAssertEqual(Kernels.rowDot(p.baseAddress!, p.baseAddress!, 37), row.map { $0 * $0 }.reduce(0, +), accuracy: 1e-3)
        }
    }

    func testParallelItemsCoverEveryItemOnce() {
        var hits = [Int](repeating: 0, count: 1000)
        hits.withUnsafeMutableBufferPointer { h in
            let p = h.baseAddress!
            Parallel.items(1000) { i, _ in p[i] += 1 }
        }
        XCTAssertEqual(hits, [Int](repeating: 1, count: 1000))
    }
}

final class MatmulTests: XCTestCase {
    func testBatchedProductWithBroadcastAndTransposes() {
        var rng = RandomStream(seed: 3)
        let A = Tensor<Double>(zeros: [4, 5, 3]), B = Tensor<Double>(zeros: [6, 5])
        rng.fillNormal(A); rng.fillNormal(B)
        // op(A[b]) = A[b]ᵀ (3×5), op(B) = Bᵀ (5×6) → C [4, 3, 6]
        let C = Matmul.product(A, B, transA: true, transB: true)
        XCTAssertEqual(C.shape, [4, 3, 6])
        for b in 0..<4 { for i in 0..<3 { for j in 0..<6 {
            var s = 0.0
            for p in 0..<5 { s += A[b * 15 + p * 3 + i] * B[j * 5 + p] }
            XCTAssertEqual(C[(b * 3 + i) * 6 + j], s, accuracy: 1e-12)
        } } }
        let D = Matmul.product(Tensor<Float>([1, 2, 3, 4], shape: [2, 2]), Tensor<Float>([5, 6, 7, 8], shape: [2, 2]))
        XCTAssertEqual(D.array, [19, 22, 43, 50])
    }
}
