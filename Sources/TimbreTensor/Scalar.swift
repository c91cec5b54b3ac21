import Foundation
import COpenBLAS

/// The element types a tensor can hold: `Float` for training and inference, `Double` for
/// finite-difference gradient checks. Every numeric kernel is generic over this protocol;
/// release builds specialise it (cross-module optimisation), so the `Float` path pays nothing.
///
/// The elementary functions are the ones the layers need. `Float.exp` is a branch-free
/// polynomial (max relative error ~2e-7 on [−86.6, 88.7]) because glibc's `expf` is several times
/// slower in a loop; `Double` uses libm, since it only serves precise checks.
public protocol TensorScalar: BinaryFloatingPoint, SIMDScalar, Codable, Sendable where Self.Stride == Self {
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func sin(_ x: Self) -> Self
    static func cos(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    /// `C = alpha · op(A) · op(B) + beta · C`, row-major, through CBLAS.
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
                     a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                     beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    static var typeName: String { get }
    /// Bytes per element (4 or 8).
    static var byteSize: Int { get }
}

@inline(__always) @usableFromInline
func cblasTrans(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }

extension Float: TensorScalar {
    /// exp(x) by range reduction x = n·ln2 + r, |r| ≤ ln2/2, a degree-6 polynomial for e^r and
    /// an exponent-field scale 2^(n−1)·2 built from the rounding trick's bits (no float→int
    /// conversion). Inputs are clamped to [−86.6, 88.72]: below, the result is 2.6e-38 instead of
    /// a subnormal or 0 (callers that need exact zeros, like masked softmax, set them).
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let xc = Swift.min(Swift.max(x, -86.6), 88.72283)
        let magic: Float = 12582912.0  // 1.5 · 2^23: adding it rounds to an integer in the low bits
        let t = xc * 1.44269504088896341 + magic
        let n = t - magic
        let r = (xc - n * 0.693145751953125) - n * 1.42860682030941723212e-6
        var p: Float = 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        let bits = (t.bitPattern &- 0x4B40_0000 &+ 126) << 23
        return p * 2 * Float(bitPattern: bits)
    }
    @inlinable public static func log(_ x: Float) -> Float { Foundation.logf(x) }
    /// x = kπ + r with |r| ≤ π/2 (π in three parts, Cody–Waite, so |x| up to ~1e5 keeps full
    /// precision), for one value or 16 lanes; returns r and the rounding trick's sum t, whose
    /// low mantissa bit is the parity of k (`flippingSign(_:whereOdd:)` applies (−1)^k).
    @inlinable @inline(__always)
    static func reduceByPi<V: PolynomialArgument>(_ x: V) -> (r: V, t: V) {
        let magic = V(12582912.0)
        let t = x * V(0.318309886183790671) + magic
        let k = t - magic
        var r = x - k * V(3.140625)
        r = r - k * V(0.00096702575683593750)
        r = r - k * V(6.2771141529083251953e-7)
        return (r, t)
    }
    /// sin(x): the reduction above, an odd degree-11 polynomial for sin r, the sign of (−1)^k.
    /// Branch-free, so loops over it vectorise (SnakeBeta runs it on every activation); max
    /// absolute error 5e-7 for |x| ≤ 2000 (libm's sinf is several times slower in a loop).
    @inlinable @inline(__always)
    public static func sin(_ x: Float) -> Float {
        let (r, t) = reduceByPi(x)
        return flippingSign(sinPolynomial(r, r * r), whereOdd: t)
    }
    /// cos(x) with the same reduction and an even degree-12 polynomial for cos r.
    @inlinable @inline(__always)
    public static func cos(_ x: Float) -> Float {
        let (r, t) = reduceByPi(x)
        return flippingSign(cosPolynomial(r * r), whereOdd: t)
    }
    /// sin r for |r| ≤ π/2 (r2 = r²): an odd degree-11 polynomial, for one value or 16 lanes.
    @inlinable @inline(__always)
    static func sinPolynomial<V: PolynomialArgument>(_ r: V, _ r2: V) -> V {
        var p = V(-2.5052108385441718775e-8)
        p = p * r2 + V(2.7557319223985890653e-6)
        p = p * r2 + V(-1.9841269841269841270e-4)
        p = p * r2 + V(8.3333333333333333333e-3)
        p = p * r2 + V(-1.6666666666666666667e-1)
        return r + r * r2 * p
    }
    /// cos r for |r| ≤ π/2 (r2 = r²): an even degree-12 polynomial, for one value or 16 lanes.
    @inlinable @inline(__always)
    static func cosPolynomial<V: PolynomialArgument>(_ r2: V) -> V {
        var p = V(2.0876756987868098979e-9)
        p = p * r2 + V(-2.7557319223985890653e-7)
        p = p * r2 + V(2.4801587301587301587e-5)
        p = p * r2 + V(-1.3888888888888888889e-3)
        p = p * r2 + V(4.1666666666666666667e-2)
        p = p * r2 + V(-0.5)
        return V(1) + r2 * p
    }
    /// sin and cos of 16 values with one range reduction: the reduction and polynomials of
    /// `sin` and `cos` above, lane by lane (SnakeBeta's backward needs both of every input).
    @inlinable @inline(__always)
    public static func sinCos(_ x: SIMD16<Float>) -> (sin: SIMD16<Float>, cos: SIMD16<Float>) {
        let (r, t) = reduceByPi(x)
        let r2 = r * r
        return (.flippingSign(sinPolynomial(r, r2), whereOdd: t), .flippingSign(cosPolynomial(r2), whereOdd: t))
    }
    @inlinable public static func tanh(_ x: Float) -> Float { Foundation.tanhf(x) }
    @inlinable
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        if k == 0 { scaleInPlace(c, m: m, n: n, ldc: ldc, beta: beta); return }
        cblas_sgemm(CblasRowMajor, cblasTrans(transA), cblasTrans(transB), Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    public static var typeName: String { "float32" }
    public static var byteSize: Int { 4 }
}

extension Double: TensorScalar {
    @inlinable public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    @inlinable public static func log(_ x: Double) -> Double { Foundation.log(x) }
    @inlinable public static func sin(_ x: Double) -> Double { Foundation.sin(x) }
    @inlinable public static func cos(_ x: Double) -> Double { Foundation.cos(x) }
    @inlinable public static func tanh(_ x: Double) -> Double { Foundation.tanh(x) }
    @inlinable
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                            a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                            beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        if m == 0 || n == 0 { return }
        if k == 0 { scaleInPlace(c, m: m, n: n, ldc: ldc, beta: beta); return }
        cblas_dgemm(CblasRowMajor, cblasTrans(transA), cblasTrans(transB), Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    public static var typeName: String { "float64" }
    public static var byteSize: Int { 8 }
}

/// `C ← beta·C` for an empty inner dimension (BLAS would be called with k = 0).
@inlinable
func scaleInPlace<T: TensorScalar>(_ c: UnsafeMutablePointer<T>, m: Int, n: Int, ldc: Int, beta: T) {
    for i in 0..<m {
        for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] }
    }
}

extension TensorScalar {
    /// Logistic sigmoid 1/(1+e^-x).
    @inlinable @inline(__always)
    public static func sigmoid(_ x: Self) -> Self { 1 / (1 + exp(-x)) }
}

/// What `Float.reduceByPi`, `sinPolynomial` and `cosPolynomial` compute on: one `Float` or 16
/// lanes of them, so the scalar functions and `Float.sinCos` share one range reduction and one
/// set of coefficients.
public protocol PolynomialArgument {
    init(_ c: Float)
    static func + (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static func * (a: Self, b: Self) -> Self
    /// `v` with its sign flipped where `t` (the sum `Float.reduceByPi` returns) has its lowest
    /// mantissa bit set: (−1)^k · v.
    static func flippingSign(_ v: Self, whereOdd t: Self) -> Self
}
extension Float: PolynomialArgument {
    @inlinable @inline(__always)
    public static func flippingSign(_ v: Float, whereOdd t: Float) -> Float {
        Float(bitPattern: v.bitPattern ^ ((t.bitPattern & 1) << 31))
    }
}
extension SIMD16: PolynomialArgument where Scalar == Float {
    @inlinable public init(_ c: Float) { self.init(repeating: c) }
    @inlinable @inline(__always)
    public static func flippingSign(_ v: Self, whereOdd t: Self) -> Self {
        let sign = (unsafeBitCast(t, to: SIMD16<UInt32>.self) & 1) &<< 31
        return unsafeBitCast(unsafeBitCast(v, to: SIMD16<UInt32>.self) ^ sign, to: Self.self)
    }
}

extension UnsafePointer where Pointee: TensorScalar {
    /// The same memory as `Float` (only where `Pointee` is `Float`: the Float-only kernels of
    /// generic layers).
    @inlinable public var floats: UnsafePointer<Float> { UnsafeRawPointer(self).assumingMemoryBound(to: Float.self) }
}
extension UnsafeMutablePointer where Pointee: TensorScalar {
    /// The same memory as `Float` (only where `Pointee` is `Float`).
    @inlinable public var floats: UnsafeMutablePointer<Float> { UnsafeMutableRawPointer(self).assumingMemoryBound(to: Float.self) }
}
