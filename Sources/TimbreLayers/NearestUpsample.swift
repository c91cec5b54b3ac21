import Foundation
import TimbreTensor

/// Upsampling by `stride` followed by `Conv1d(Cin → Cout, k = 2·stride)` with PyTorch's 'same'
/// padding (left `stride − 1`, right `stride`), without bias. Two interpolations:
///
/// - `.nearest`: each input sample repeated `stride` times, as stable-audio-tools'
///   `use_nearest_upsample`. No checkerboard: every output sample sees the same number of input
///   frames. But the repeat keeps the images of the input's spectrum (its sinc response is only
///   −13 dB at the first image), so whatever a block carries near its input's Nyquist frequency
///   comes out as a comb spaced by the input rate.
/// - `.sinc`: band-limited interpolation: input sample j sits at output time `j·s + (s − 1)/2`
///   (the centre of its repeat) and output time m = t·s + q is `Σ_j x[j]·h(m − j·s − (s − 1)/2)`
///   over j = t − W + 1 … t + W, with
///   `h(τ) = ρ·sinc(ρτ/s)·(0.5 + 0.5·cos(πτ/(W·s)))` (0 for |τ| ≥ W·s; a Hann-windowed sinc whose
///   cutoff is ρ times the input's Nyquist frequency), each of the s phases normalised to sum 1
///   (so a constant input stays constant, with no ripple at the input rate). W = `sincHalfWidth`
///   input samples each side, ρ = `sincCutoff`. Images are removed before the learned convolution,
///   which (being linear and time-invariant) cannot bring them back.
///
/// Shapes: x `[B, Cin, T]` → y `[B, Cout, T·stride]`. The interpolation writes the padded signal
/// `u [B, Cin, T·s + 2s − 1]` (`u[p]` is output time `p − (s − 1)`; for `.nearest` zero outside
/// the input, for `.sinc` the interpolation of x with zeros outside), so the convolution has
/// none. Backward: the adjoint of the interpolation (`.nearest`: `dx[t] = Σ_q du[s − 1 + t·s + q]`).
/// Names: the convolution's (`weight`, or `weight_g` and `weight_v`), in the given scope.
/// How `NearestUpsampleConv` fills the samples between its input's.
public enum UpsampleInterpolation: Sendable { case nearest, sinc }

public final class NearestUpsampleConv<T: TensorScalar> {
    public typealias Interpolation = UpsampleInterpolation
    public static var sincHalfWidth: Int { 8 }
    public static var sincCutoff: Double { 0.8 }

    public let stride: Int
    public let interpolation: Interpolation
    public let conv: Conv1d<T>
    /// `.sinc`: the 2W taps of each phase q (`taps[q·2W + i]` weighs input `t − W + 1 + i` for
    /// output time `t·s + q`).
    let taps: [T]
    var u = Workspace<T>(), dx = Workspace<T>()
    var inShape: [Int] = []

    public init(_ scope: ParamScope<T>, _ inChannels: Int, _ outChannels: Int, stride: Int, weightNorm: Bool,
                interpolation: Interpolation = .nearest) {
        precondition(stride >= 1, "NearestUpsampleConv: stride \(stride)")
        self.stride = stride; self.interpolation = interpolation
        conv = Conv1d(scope, inChannels, outChannels, kernel: 2 * stride, bias: false, weightNorm: weightNorm)
        taps = interpolation == .sinc ? Self.sincTaps(stride: stride) : []
    }

    /// The `.sinc` interpolation's taps, phase by phase (each phase sums to 1).
    static func sincTaps(stride s: Int, halfWidth W: Int = sincHalfWidth, cutoff rho: Double = sincCutoff) -> [T] {
        var out = [T]()
        for q in 0..<s {
            let row = (0..<(2 * W)).map { i -> Double in
                let tau = Double((W - 1 - i) * s + q) - Double(s - 1) / 2
                guard abs(tau) < Double(W * s) else { return 0 }
                let a = Double.pi * rho * tau / Double(s)
                return rho * (tau == 0 ? 1 : sin(a) / a) * (0.5 + 0.5 * cos(Double.pi * tau / Double(W * s)))
            }
            let sum = row.reduce(0, +)
            out += row.map { T($0 / sum) }
        }
        return out
    }

    public var keepsInput: Bool {
        get { conv.keepsInput }
        set { conv.keepsInput = newValue }
    }

    public func releaseBuffers() { conv.releaseBuffers(); u.release(); dx.release() }

    /// With `snake` (inference only), the activation is applied as the convolution reads the
    /// interpolated signal (snake(0) = 0, so zero padding is unchanged; for `.sinc` it is applied
    /// to the input before interpolating instead, see `forward`).
    public func forward(_ x: Tensor<T>, after snake: SnakeBeta<T>? = nil) -> Tensor<T> {
        precondition(x.rank == 3 && x.shape[1] == conv.inChannels, "NearestUpsampleConv: x must be [B, \(conv.inChannels), T], got \(x.shape)")
        let (B, C, L, s) = (x.shape[0], x.shape[1], x.shape[2], stride)
        inShape = x.shape
        let n = L * s + 2 * s - 1
        let u = self.u.get([B, C, n])
        let us = u.data
        switch interpolation {
        case .nearest:
            let xs = x.data
            Parallel.range(B * C, grain: max(1, Kernels.grain / max(n, 1))) { rows in
                for row in rows {
                    let src = xs + row * L, dst = us + row * n
                    dst.update(repeating: 0, count: s - 1)
                    for t in 0..<L { (dst + s - 1 + t * s).update(repeating: src[t], count: s) }
                    (dst + s - 1 + L * s).update(repeating: 0, count: s)
                }
            }
            let y = conv.forward(u, after: snake)
            if !keepsInput { self.u.release() }
            return y
        case .sinc:
            // the activation does not commute with the interpolation: apply it first
            let xa = snake.map { $0.forward(x) } ?? x
            let xs = xa.data
            let W = taps.count / (2 * s)
            taps.withUnsafeBufferPointer { hp in
                let h = hp.baseAddress!
                Parallel.range(B * C, grain: max(1, Kernels.grain / max(n * 2 * W, 1))) { rows in
                    for row in rows { Self.interpolate(xs + row * L, L, into: us + row * n, n, s: s, W: W, taps: h) }
                }
            }
            snake?.releaseBuffers()
            let y = conv.forward(u)
            if !keepsInput { self.u.release() }
            return y
        }
    }

    public func backward(_ dy: Tensor<T>) -> Tensor<T> {
        let du = conv.backward(dy)
        let (B, C, L, s) = (inShape[0], inShape[1], inShape[2], stride)
        let n = L * s + 2 * s - 1
        let dx = self.dx.get(inShape)
        let ds = du.data, xs = dx.data
        switch interpolation {
        case .nearest:
            Parallel.range(B * C, grain: max(1, Kernels.grain / max(n, 1))) { rows in
                for row in rows {
                    let src = ds + row * n + s - 1, dst = xs + row * L
                    for t in 0..<L { dst[t] = Kernels.rowSum(src + t * s, s) }
                }
            }
        case .sinc:
            let W = taps.count / (2 * s)
            taps.withUnsafeBufferPointer { hp in
                let h = hp.baseAddress!
                Parallel.range(B * C, grain: max(1, Kernels.grain / max(n * 2 * W, 1))) { rows in
                    for row in rows { Self.interpolateAdjoint(ds + row * n, n, into: xs + row * L, L, s: s, W: W, taps: h) }
                }
            }
        }
        return dx
    }

    /// For `u[p]` (output time m = p − (s − 1) = t·s + q, t = ⌊m/s⌋): its phase q and its first
    /// input `t − W + 1`.
    @inline(__always)
    static func window(_ p: Int, s: Int, W: Int) -> (phase: Int, first: Int) {
        let m = p - (s - 1)
        let t = m >= 0 ? m / s : -((-m + s - 1) / s)
        return (m - t * s, t - W + 1)
    }

    /// One row of `.sinc`: `u[p]`, output time m = p − (s − 1) = t·s + q, is the phase-q taps
    /// against `x[t − W + 1 ..< t + W + 1]` (zero outside the row).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func interpolate(_ x: UnsafePointer<T>, _ L: Int, into u: UnsafeMutablePointer<T>, _ n: Int, s: Int, W: Int, taps: UnsafePointer<T>) {
        for p in 0..<n {
            let (q, lo) = window(p, s: s, W: W)
            let w = taps + q * 2 * W
            var acc: T = 0
            if lo >= 0 && lo + 2 * W <= L {
                let xr = x + lo
                for i in 0..<(2 * W) { acc += w[i] * xr[i] }
            } else {
                for i in max(0, -lo)..<min(2 * W, L - lo) { acc += w[i] * x[lo + i] }
            }
            u[p] = acc
        }
    }

    /// The adjoint of `interpolate`: `dx[j] = Σ_p du[p]·(the tap that weighed x[j] in u[p])`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func interpolateAdjoint(_ du: UnsafePointer<T>, _ n: Int, into dx: UnsafeMutablePointer<T>, _ L: Int, s: Int, W: Int, taps: UnsafePointer<T>) {
        dx.update(repeating: 0, count: L)
        for p in 0..<n {
            let (q, lo) = window(p, s: s, W: W)
            let w = taps + q * 2 * W, g = du[p]
            if lo >= 0 && lo + 2 * W <= L {
                let xr = dx + lo
                for i in 0..<(2 * W) { xr[i] += w[i] * g }
            } else {
                for i in max(0, -lo)..<min(2 * W, L - lo) { dx[lo + i] += w[i] * g }
            }
        }
    }
}
