/// A dense, row-major, contiguous array of `T` with a shape.
///
/// Reference semantics: a `Tensor` is a handle to storage, as in llm.c's raw buffers. Layers keep
/// their outputs and saved activations in tensors they reuse from step to step (large buffers are
/// never re-allocated while the shape is unchanged; docs/design.md §8 says why that matters).
/// A tensor is either the owner of its storage or a *view* into another tensor's storage
/// (`view(offset:shape:)`), e.g. a named parameter inside the model's one flat parameter buffer;
/// a view keeps its parent alive.
public final class Tensor<T: TensorScalar>: @unchecked Sendable {
    public private(set) var shape: [Int]
    public private(set) var count: Int
    public private(set) var data: UnsafeMutablePointer<T>
    @usableFromInline var capacity: Int
    @usableFromInline let parent: Tensor<T>?

    /// A new zero-filled tensor.
    public convenience init(zeros shape: [Int]) {
        self.init(uninitialized: shape)
        data.initialize(repeating: 0, count: capacity)
    }

    /// A new tensor whose contents are unspecified (for buffers that are written in full before
    /// they are read: no pass of zeros over memory that is about to be overwritten).
    public init(uninitialized shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.capacity = StoragePool.capacity(for: max(count, 1), stride: MemoryLayout<T>.stride)
        self.data = StoragePool.allocate(capacity, as: T.self)
        self.parent = nil
        if StoragePool.poison { data.initialize(repeating: .nan, count: capacity) }
    }

    public convenience init(_ values: [T], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *),
                     "Tensor: \(values.count) values do not fill shape \(shape)")
        self.init(zeros: shape)
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: values.count) }
    }

    public convenience init(filled value: T, shape: [Int]) {
        self.init(zeros: shape)
        data.update(repeating: value, count: count)
    }

    private init(viewOf parent: Tensor<T>, offset: Int, shape: [Int]) {
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.capacity = count
        self.data = parent.data + offset
        self.parent = parent
    }

    deinit { if parent == nil { StoragePool.release(data, capacity: capacity) } }

    /// A tensor sharing `count(shape)` elements of this one's storage from `offset`.
    public func view(offset: Int = 0, shape: [Int]) -> Tensor<T> {
        let n = shape.reduce(1, *)
        precondition(offset >= 0 && offset + n <= count,
                     "Tensor.view: offset \(offset) + \(n) elements exceeds \(count) (shape \(self.shape))")
        return Tensor(viewOf: self, offset: offset, shape: shape)
    }

    /// Changes the shape in place, keeping the element count.
    public func reshape(_ newShape: [Int]) {
        precondition(newShape.reduce(1, *) == count, "Tensor.reshape: \(shape) → \(newShape) changes the element count")
        shape = newShape
    }

    /// Gives the tensor a new shape, re-allocating only when the storage must grow. Contents are
    /// unspecified afterwards unless `zero` is set. Views cannot be resized.
    public func resize(_ newShape: [Int], zero: Bool = false) {
        let n = newShape.reduce(1, *)
        if n > capacity {
            precondition(parent == nil, "Tensor.resize: cannot grow a view (\(shape) → \(newShape))")
            StoragePool.release(data, capacity: capacity)
            capacity = StoragePool.capacity(for: n, stride: MemoryLayout<T>.stride)
            data = StoragePool.allocate(capacity, as: T.self)
            if zero { data.initialize(repeating: 0, count: capacity) }
            else if StoragePool.poison { data.initialize(repeating: .nan, count: capacity) }
        } else if zero {
            data.update(repeating: 0, count: n)
        } else if StoragePool.poison {
            data.update(repeating: .nan, count: n)
        }
        shape = newShape
        count = n
    }

    public var rank: Int { shape.count }
    @inlinable public subscript(i: Int) -> T {
        get { data[i] }
        set { data[i] = newValue }
    }
    public var array: [T] { Array(UnsafeBufferPointer(start: data, count: count)) }
    public var buffer: UnsafeMutableBufferPointer<T> { UnsafeMutableBufferPointer(start: data, count: count) }

    public func zero() { data.update(repeating: 0, count: count) }
    public func fill(_ v: T) { data.update(repeating: v, count: count) }
    public func copy(from other: Tensor<T>) {
        precondition(other.count == count, "Tensor.copy: \(other.shape) into \(shape)")
        data.update(from: other.data, count: count)
    }
    public func clone() -> Tensor<T> {
        let t = Tensor(zeros: shape)
        t.copy(from: self)
        return t
    }
    /// Converts to another element type (e.g. Float parameters into a Double check model).
    public func converted<U: TensorScalar>(to: U.Type = U.self) -> Tensor<U> {
        let t = Tensor<U>(zeros: shape)
        for i in 0..<count { t.data[i] = U(data[i]) }
        return t
    }
}

/// A tensor slot owned by a layer: keeps one tensor and hands it back with the requested shape,
/// re-allocating only when it must grow. This is how layers reuse activation buffers.
public struct Workspace<T: TensorScalar> {
    @usableFromInline var tensor: Tensor<T>?
    public init() {}
    /// The tensor, shaped `shape`; contents unspecified unless `zero` is set.
    @inlinable
    public mutating func get(_ shape: [Int], zero: Bool = false) -> Tensor<T> {
        if let t = tensor {
            t.resize(shape, zero: zero)
            return t
        }
        let t = zero ? Tensor<T>(zeros: shape) : Tensor<T>(uninitialized: shape)
        tensor = t
        return t
    }
    @inlinable public var current: Tensor<T>? { tensor }
    /// Drops the tensor (its storage is freed once nothing else holds it).
    public mutating func release() { tensor = nil }
}

/// Numbered scratch tensors that grow on demand: per-worker windows, im2col matrices and partial
/// sums of the convolutions.
public struct ScratchBuffers<T: TensorScalar> {
    var tensors: [Tensor<T>] = []
    public init() {}
    /// Buffer `i` with room for `n` elements (contents unspecified).
    public mutating func buffer(_ i: Int, _ n: Int) -> UnsafeMutablePointer<T> {
        while tensors.count <= i { tensors.append(Tensor(zeros: [0])) }
        tensors[i].resize([n])
        return tensors[i].data
    }
    public subscript(i: Int) -> Tensor<T> { tensors[i] }
}

/// Shape checks with messages that name the layer, the argument and both shapes.
public enum ShapeCheck {
    @inlinable
    public static func rank<T>(_ layer: String, _ arg: String, _ t: Tensor<T>, _ r: Int, _ layout: String) {
        precondition(t.rank == r, "\(layer): \(arg) must be \(layout) (rank \(r)), got shape \(t.shape)")
    }
    @inlinable
    public static func dim<T>(_ layer: String, _ arg: String, _ t: Tensor<T>, axis: Int, _ expected: Int, _ layout: String) {
        precondition(t.shape[axis] == expected,
                     "\(layer): \(arg) must be \(layout) with size \(expected) on axis \(axis), got shape \(t.shape)")
    }
    @inlinable
    public static func same<T>(_ layer: String, _ a: String, _ ta: Tensor<T>, _ b: String, _ tb: Tensor<T>) {
        precondition(ta.shape == tb.shape, "\(layer): \(a) \(ta.shape) and \(b) \(tb.shape) must have the same shape")
    }
}
