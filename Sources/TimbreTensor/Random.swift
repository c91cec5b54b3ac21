/// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011).
///
/// A stream is a pure function of (seed, stream key, position): the key mixes the seed with the
/// caller's identifiers (e.g. step, example index, purpose), and the position counts the 128-bit
/// blocks drawn so far. Saving `state` and restoring it reproduces every later draw exactly, and
/// two threads that build the same stream draw the same numbers — which is what makes prefetching
/// and resumed training bit-reproducible (docs/design.md §1).
public struct RandomStream: Sendable, Equatable, Codable {
    public struct State: Sendable, Equatable, Codable {
        public var key0: UInt32, key1: UInt32
        public var stream: UInt64
        public var position: UInt64
        /// Index (0…4) of the next unused word of the current block; 4 means none left.
        public var used: Int
    }
    public private(set) var state: State
    private var block: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)

    /// A stream keyed by `seed` and any identifiers (step, example, purpose…).
    public init(seed: UInt64, _ ids: UInt64...) {
        var h = splitmix(seed)
        var s: UInt64 = 0x9E37_79B9_7F4A_7C15
        for id in ids { s = splitmix(s ^ splitmix(id &+ h)); h = splitmix(h &+ id) }
        state = State(key0: UInt32(truncatingIfNeeded: h), key1: UInt32(truncatingIfNeeded: h >> 32),
                      stream: s, position: 0, used: 4)
    }

    public init(state: State) {
        self.state = state
        if state.used < 4 { block = philox(counterFor(state.position &- 1)) }
    }

    public static func == (a: RandomStream, b: RandomStream) -> Bool { a.state == b.state }
    enum CodingKeys: CodingKey { case state }
    public init(from decoder: Decoder) throws {
        self.init(state: try decoder.container(keyedBy: CodingKeys.self).decode(State.self, forKey: .state))
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(state, forKey: .state)
    }

    private func counterFor(_ p: UInt64) -> (UInt32, UInt32, UInt32, UInt32) {
        (UInt32(truncatingIfNeeded: p), UInt32(truncatingIfNeeded: p >> 32),
         UInt32(truncatingIfNeeded: state.stream), UInt32(truncatingIfNeeded: state.stream >> 32))
    }

    private func philox(_ c: (UInt32, UInt32, UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
        var (c0, c1, c2, c3) = c
        var k0 = state.key0, k1 = state.key1
        for _ in 0..<10 {
            let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
            let n0 = UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0
            let n2 = UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1
            c0 = n0; c1 = UInt32(truncatingIfNeeded: p1)
            c2 = n2; c3 = UInt32(truncatingIfNeeded: p0)
            k0 &+= 0x9E37_79B9; k1 &+= 0xBB67_AE85
        }
        return (c0, c1, c2, c3)
    }

    /// The next 32 random bits.
    public mutating func nextUInt32() -> UInt32 {
        if state.used == 4 {
            block = philox(counterFor(state.position))
            state.position &+= 1
            state.used = 0
        }
        defer { state.used += 1 }
        switch state.used {
        case 0: return block.0
        case 1: return block.1
        case 2: return block.2
        default: return block.3
        }
    }

    /// Uniform in [0, 1) with 24 random bits (exactly representable as Float).
    public mutating func uniform() -> Float { Float(nextUInt32() >> 8) * 0x1p-24 }
    /// Uniform in [0, 1) with 53 random bits.
    public mutating func uniformDouble() -> Double {
        let hi = UInt64(nextUInt32() >> 5), lo = UInt64(nextUInt32() >> 6)
        return Double(hi << 26 | lo) * 0x1p-53
    }
    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * uniformDouble() }
    /// Standard normal by Box–Muller (one value per call; computed in Double).
    public mutating func normal() -> Double {
        let u1 = 1 - uniformDouble()  // (0, 1]
        let u2 = uniformDouble()
        return (-2 * Double.log(u1)).squareRoot() * Double.cos(2 * Double.pi * u2)
    }
    /// A uniformly chosen integer in `0..<n`.
    public mutating func int(below n: Int) -> Int {
        precondition(n > 0)
        return Int((UInt64(nextUInt32()) * UInt64(n)) >> 32)  // (shifts bind tighter than * in Swift)
    }

    /// Fills `t` with N(mean, std²).
    /// Shuffles `a` in place (Fisher–Yates from the last element down, one `int(below:)` draw per
    /// position): the one shuffle the loaders, splits and corpus builders use.
    public mutating func shuffle<E>(_ a: inout [E]) {
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, int(below: i + 1)) }
    }

    public mutating func fillNormal<T: TensorScalar>(_ t: Tensor<T>, mean: Double = 0, std: Double = 1) {
        for i in 0..<t.count { t.data[i] = T(mean + std * normal()) }
    }
    /// Fills `t` with U[lo, hi).
    public mutating func fillUniform<T: TensorScalar>(_ t: Tensor<T>, _ lo: Double, _ hi: Double) {
        for i in 0..<t.count { t.data[i] = T(uniform(lo, hi)) }
    }
}

@inline(__always)
func splitmix(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}
