/// What a parameter is, so optimisers can pick its group (e.g. no weight decay on norms, biases,
/// embeddings and Snake parameters) without parsing names.
public enum ParamKind: String, Sendable, Codable {
    case weight, bias, norm, embedding, snake, gain
    /// Not trained (the optimizer skips it), but saved with the weights: e.g. the MM-DiT's
    /// latent statistics.
    case buffer
}

/// How a parameter is initialised (docs/design.md §1): PyTorch's defaults for Linear/Conv (uniform ±bound,
/// bound = 1/√fan_in), N(0, std²) for embeddings, constants for norms and Snake, and the
/// weight-norm gain `g = ‖v‖` (over all dims but 0) of an already initialised `v`.
public enum ParamInit: Sendable {
    case zeros
    case constant(Double)
    case uniform(bound: Double)
    case normal(std: Double)
    /// `g[o] = ‖v[o, …]‖₂` for the parameter named here (must be registered before this one).
    case weightNormGain(of: String)
}

/// One named parameter: a view into the store's flat value buffer and one into its flat
/// gradient buffer, at the same offset.
public final class Param<T: TensorScalar>: @unchecked Sendable {
    public let name: String
    public let shape: [Int]
    public let kind: ParamKind
    public let initializer: ParamInit
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
    /// Valid after `ParameterStore.finalize`.
    public internal(set) var value: Tensor<T>!
    public internal(set) var grad: Tensor<T>!

    init(name: String, shape: [Int], kind: ParamKind, initializer: ParamInit, offset: Int) {
        self.name = name; self.shape = shape; self.kind = kind; self.initializer = initializer; self.offset = offset
    }
}

/// All parameters of a model in one flat buffer and all gradients in another (llm.c layout):
/// optimisers, clipping, checkpoints and all-reduce are one loop over one buffer. Layers register
/// their parameters with dotted names (docs/design.md §1) through a `ParamScope`; `finalize` allocates the
/// two buffers, points every `Param` at its slice and initialises the values.
public final class ParameterStore<T: TensorScalar>: @unchecked Sendable {
    public private(set) var params: [Param<T>] = []
    public private(set) var values: Tensor<T> = Tensor(zeros: [0])
    public private(set) var grads: Tensor<T> = Tensor(zeros: [0])
    public private(set) var isFinalized = false
    private var byName: [String: Param<T>] = [:]
    private var total = 0

    public init() {}

    public var root: ParamScope<T> { ParamScope(store: self, prefix: "") }
    public var count: Int { total }
    public subscript(name: String) -> Param<T>? { byName[name] }
    /// The name of the parameter holding flat index `i` of `values` or `grads` (error messages).
    public func name(atFlatIndex i: Int) -> String { params.last { $0.offset <= i }?.name ?? "?" }

    func register(_ name: String, shape: [Int], kind: ParamKind, initializer: ParamInit) -> Param<T> {
        precondition(!isFinalized, "ParameterStore: cannot add \(name) after finalize()")
        precondition(byName[name] == nil, "ParameterStore: parameter \(name) registered twice")
        let p = Param<T>(name: name, shape: shape, kind: kind, initializer: initializer, offset: total)
        total += p.count
        params.append(p)
        byName[name] = p
        return p
    }

    /// Allocates the flat buffers and initialises every parameter from a stream keyed by
    /// (`seed`, parameter name), so a parameter's initial value does not depend on what else the
    /// model holds or in which order it was registered.
    public func finalize(seed: UInt64 = 0) {
        precondition(!isFinalized, "ParameterStore.finalize called twice")
        values = Tensor(zeros: [total])
        grads = Tensor(zeros: [total])
        for p in params {
            p.value = values.view(offset: p.offset, shape: p.shape)
            p.grad = grads.view(offset: p.offset, shape: p.shape)
        }
        isFinalized = true
        reinitialise(seed: seed)
    }

    /// Draws every parameter as `finalize` does: independent draws first, then the values derived
    /// from them (weight-norm gains, which PyTorch lists before the `weight_v` they come from).
    public func reinitialise(seed: UInt64) {
        for p in params { if case .weightNormGain = p.initializer {} else { initialise(p, seed: seed) } }
        for p in params { if case .weightNormGain = p.initializer { initialise(p, seed: seed) } }
    }

    private func initialise(_ p: Param<T>, seed: UInt64) {
        var rng = RandomStream(seed: seed, fnv1a(p.name))
        switch p.initializer {
        case .zeros: p.value.zero()
        case .constant(let c): p.value.fill(T(c))
        case .uniform(let b): rng.fillUniform(p.value, -b, b)
        case .normal(let s): rng.fillNormal(p.value, std: s)
        case .weightNormGain(let vName):
            guard let v = byName[vName] else { preconditionFailure("ParameterStore: \(p.name) needs \(vName)") }
            let rows = v.shape[0], per = v.count / max(rows, 1)
            for o in 0..<rows {
                var s: Double = 0
                for i in 0..<per { let x = Double(v.value[o * per + i]); s += x * x }
                p.value[o] = T(s.squareRoot())
            }
        }
    }

    public func zeroGrads() { grads.zero() }
}

/// A dotted-name prefix inside a store: `scope.child("blocks").child("2")` registers
/// `blocks.2.<name>`.
public struct ParamScope<T: TensorScalar> {
    public let store: ParameterStore<T>
    public let prefix: String
    public func child(_ name: String) -> ParamScope<T> {
        ParamScope(store: store, prefix: prefix.isEmpty ? name : "\(prefix).\(name)")
    }
    public func child(_ index: Int) -> ParamScope<T> { child(String(index)) }
    public func name(_ leaf: String) -> String { prefix.isEmpty ? leaf : "\(prefix).\(leaf)" }
    public func param(_ leaf: String, _ shape: [Int], _ kind: ParamKind, _ initializer: ParamInit) -> Param<T> {
        store.register(name(leaf), shape: shape, kind: kind, initializer: initializer)
    }
}

/// 64-bit FNV-1a of a string's UTF-8 bytes (stable across runs and platforms, unlike `hashValue`).
public func fnv1a(_ s: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
    return h
}
