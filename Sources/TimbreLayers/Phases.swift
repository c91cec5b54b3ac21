import TimbreTensor

/// Splitting a strided signal into its phase rows and merging them back, 16 columns at a time
/// for `Float` and strides 2, 4 and 8 (the VAE's): `rows[r·ld + i] = src[i·s + r]` and its adjoint
/// `dst[i·s + r] += rows[r·ld + i]`, for i in `columns`.
///
/// The phase window of a strided convolution (`ConvEngine.phaseWindow`) and a strided scatter's
/// write-back were scalar loops with s output streams; in a Conv1d 32→32 k4 s2 at T = 32,768 they
/// took more of the layer's samples than its products. Here each group of 16 columns is loaded as
/// s/2 `SIMD32` values and split with `evenHalf`/`oddHalf` (one permute each), log₂ s times; the
/// merge is the inverse, with the two-way interleave written as one 32-lane initialiser (the
/// compiler turns both into shuffles; a chain of `evenHalf` splits for the interleave, or a
/// `SIMD32` addition, was 10× slower than scalar code here). On one core, 4,096 columns: s = 2
/// 5.6 → 1.3 µs, s = 4 8.9–15.9 → 2.5–2.7 µs, s = 8 18–32 → 5.0 µs; merge s = 2 5.0–6.3 → 0.6 µs.
public enum Phases {
    typealias V = SIMD16<Float>
    typealias W = SIMD32<Float>

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> W { UnsafeRawPointer(p).loadUnaligned(as: W.self) }
    @inline(__always) static func load16(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }
    /// dst[0..<32] += v
    @inline(__always) static func add(_ v: W, _ p: UnsafeMutablePointer<Float>) {
        store(load16(p) + v.lowHalf, p); store(load16(p + 16) + v.highHalf, p + 16)
    }
    /// (a₀, b₀, a₁, b₁, …)
    @inline(__always) static func zip(_ a: V, _ b: V) -> W {
        W(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3], a[4], b[4], a[5], b[5], a[6], b[6], a[7], b[7],
          a[8], b[8], a[9], b[9], a[10], b[10], a[11], b[11], a[12], b[12], a[13], b[13], a[14], b[14], a[15], b[15])
    }
    /// The even and odd lanes of (a, b), each 32 wide.
    @inline(__always) static func unzip(_ a: W, _ b: W) -> (W, W) {
        (W(lowHalf: a.evenHalf, highHalf: b.evenHalf), W(lowHalf: a.oddHalf, highHalf: b.oddHalf))
    }

    /// rows[r·ld + i] = src[i·s + r] for r < s, i in `columns`.
    public static func split<T: TensorScalar>(_ src: UnsafePointer<T>, s: Int, into rows: UnsafeMutablePointer<T>, ld: Int, columns: Range<Int>) {
        var i = columns.lowerBound
        if T.self == Float.self && (s == 2 || s == 4 || s == 8) {
            let x = src.floats, o = rows.floats
            while i + 16 <= columns.upperBound {
                let p = x + i * s
                switch s {
                case 2:
                    let v = load(p)
                    store(v.evenHalf, o + i); store(v.oddHalf, o + ld + i)
                case 4:
                    let (e, d) = unzip(load(p), load(p + 32))  // phases {0, 2} and {1, 3}, alternating
                    store(e.evenHalf, o + i); store(d.evenHalf, o + ld + i)
                    store(e.oddHalf, o + 2 * ld + i); store(d.oddHalf, o + 3 * ld + i)
                default:
                    let (e01, d01) = unzip(load(p), load(p + 32)), (e23, d23) = unzip(load(p + 64), load(p + 96))
                    let (p04, p26) = unzip(e01, e23), (p15, p37) = unzip(d01, d23)
                    store(p04.evenHalf, o + i); store(p15.evenHalf, o + ld + i)
                    store(p26.evenHalf, o + 2 * ld + i); store(p37.evenHalf, o + 3 * ld + i)
                    store(p04.oddHalf, o + 4 * ld + i); store(p15.oddHalf, o + 5 * ld + i)
                    store(p26.oddHalf, o + 6 * ld + i); store(p37.oddHalf, o + 7 * ld + i)
                }
                i += 16
            }
        }
        for i in i..<columns.upperBound {
            let q = src + i * s
            for r in 0..<s { rows[r * ld + i] = q[r] }
        }
    }

    /// dst[i·s + r] += rows[r·ld + i] for r < s, i in `columns` (the adjoint of `split`).
    public static func mergeAdding<T: TensorScalar>(_ rows: UnsafePointer<T>, s: Int, ld: Int, into dst: UnsafeMutablePointer<T>, columns: Range<Int>) {
        var i = columns.lowerBound
        if T.self == Float.self && (s == 2 || s == 4 || s == 8) {
            let o = rows.floats, x = dst.floats
            @inline(__always) func row(_ r: Int) -> V { load16(o + r * ld + i) }
            while i + 16 <= columns.upperBound {
                let p = x + i * s
                switch s {
                case 2:
                    add(zip(row(0), row(1)), p)
                case 4:
                    let e = zip(row(0), row(2)), d = zip(row(1), row(3))
                    add(zip(e.lowHalf, d.lowHalf), p); add(zip(e.highHalf, d.highHalf), p + 32)
                default:
                    let p04 = zip(row(0), row(4)), p26 = zip(row(2), row(6)), p15 = zip(row(1), row(5)), p37 = zip(row(3), row(7))
                    let e01 = zip(p04.lowHalf, p26.lowHalf), e23 = zip(p04.highHalf, p26.highHalf)
                    let d01 = zip(p15.lowHalf, p37.lowHalf), d23 = zip(p15.highHalf, p37.highHalf)
                    add(zip(e01.lowHalf, d01.lowHalf), p); add(zip(e01.highHalf, d01.highHalf), p + 32)
                    add(zip(e23.lowHalf, d23.lowHalf), p + 64); add(zip(e23.highHalf, d23.highHalf), p + 96)
                }
                i += 16
            }
        }
        for i in i..<columns.upperBound {
            let q = dst + i * s
            for r in 0..<s { q[r] += rows[r * ld + i] }
        }
    }
}
