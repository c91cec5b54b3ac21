import TimbreTensor

/// Rotary position embedding, rotate-half (GPT-NeoX) convention over the full head width,
/// with real-valued positions (docs/design.md §3).
///
/// For a head vector x of width hd (h = hd/2), frequency f_i = base^(−2i/hd) and θ_i = pos·f_i:
/// `y_i = x_i cos θ_i − x_{i+h} sin θ_i`, `y_{i+h} = x_{i+h} cos θ_i + x_i sin θ_i`.
/// Backward is the inverse rotation. Positions are inputs, not trained (no gradient).
///
/// Shapes: x `[B, N, P·H·hd]`, the last axis laid out `[P, H, hd]` (P = 3 for a fused QKV
/// tensor); only the parts listed in `rotatedParts` are rotated (q and k: `[0, 1]`).
/// `positions [B·N]`; tokens whose `rotate` flag is false pass through (description tokens).
public final class RoPE<T: TensorScalar> {
    public let heads: Int, headDim: Int, parts: Int, rotatedParts: [Int]
    public let base: Double
    var table: [T] = []  // [B·N, h, 2]: cos, sin
    var rotate: [Bool] = []
    /// The last two calls' tables: a sampler calls with the same two position sets (with and
    /// without text, or with and without a reference) at every step.
    var recent: [(positions: [Double], rotate: [Bool], table: [T])] = []
    var y = Workspace<T>(), dx = Workspace<T>()

    public init(heads: Int, headDim: Int, parts: Int = 1, rotatedParts: [Int] = [0], base: Double = 10000) {
        precondition(headDim % 2 == 0, "RoPE: head width \(headDim) must be even")
        self.heads = heads; self.headDim = headDim; self.parts = parts; self.rotatedParts = rotatedParts; self.base = base
    }

    var width: Int { parts * heads * headDim }

    public func forward(_ x: Tensor<T>, positions: [Double], rotate: [Bool]? = nil) -> Tensor<T> {
        precondition(x.rank == 3 && x.shape[2] == width, "RoPE(\(parts)×\(heads)×\(headDim)): x must be [B, N, \(width)], got \(x.shape)")
        let tokens = x.shape[0] * x.shape[1]
        precondition(positions.count == tokens, "RoPE: \(positions.count) positions for \(tokens) tokens (x \(x.shape))")
        precondition(rotate == nil || rotate!.count == tokens, "RoPE: \(rotate!.count) rotate flags for \(tokens) tokens")
        let flags = rotate ?? [Bool](repeating: true, count: tokens)
        self.rotate = flags
        if let hit = recent.firstIndex(where: { $0.positions == positions && $0.rotate == flags }) {
            table = recent[hit].table
        } else {
            let h = headDim / 2
            table = [T](repeating: 0, count: tokens * h * 2)
            for n in 0..<tokens where flags[n] {
                for i in 0..<h {
                    let theta = positions[n] * Double.exp(-Double.log(base) * Double(2 * i) / Double(headDim))
                    table[(n * h + i) * 2] = T(Double.cos(theta))
                    table[(n * h + i) * 2 + 1] = T(Double.sin(theta))
                }
            }
            recent.append((positions, flags, table))
            if recent.count > 2 { recent.removeFirst() }
        }
        let y = self.y.get(x.shape)
        y.copy(from: x)
        apply(x.data, y.data, tokens: tokens, inverse: false)
        return y
    }

    public func backward(_ dy: Tensor<T>) -> Tensor<T> {
        let tokens = rotate.count
        precondition(dy.rank == 3 && dy.shape[2] == width && dy.shape[0] * dy.shape[1] == tokens,
                     "RoPE: dy must be [B, N, \(width)] with \(tokens) tokens, got \(dy.shape)")
        let dx = self.dx.get(dy.shape)
        dx.copy(from: dy)
        apply(dy.data, dx.data, tokens: tokens, inverse: true)
        return dx
    }

    func apply(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, tokens: Int, inverse: Bool) {
        let h = headDim / 2, w = width
        table.withUnsafeBufferPointer { tb in
            for n in 0..<tokens where rotate[n] {
                let cs = tb.baseAddress! + n * h * 2
                for part in rotatedParts {
                    for head in 0..<heads {
                        let o = n * w + (part * heads + head) * headDim
                        let a = x + o, b = y + o
                        for i in 0..<h {
                            let c = cs[2 * i], s = inverse ? -cs[2 * i + 1] : cs[2 * i + 1]
                            b[i] = a[i] * c - a[i + h] * s
                            b[i + h] = a[i + h] * c + a[i] * s
                        }
                    }
                }
            }
        }
    }
}
