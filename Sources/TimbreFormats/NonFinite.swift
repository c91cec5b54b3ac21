/// Finds NaN and infinite values in float buffers (audio, weights, gradients before a write).
public enum NonFinite {
    /// How many values of `x` are NaN or infinite, and the index of the first. At most `limit`
    /// are counted (the scan stops there).
    public static func scan(_ x: UnsafeBufferPointer<Float>, limit: Int = .max) -> (count: Int, first: Int?) {
        // x − x is 0 for finite x and NaN otherwise; summing blocks of it keeps the scan
        // vectorised, and only a block whose sum is not 0 is looked at value by value.
        var count = 0, first: Int? = nil, start = 0
        while start < x.count && count < limit {
            let end = min(x.count, start + 4096)
            var acc: Float = 0
            for i in start..<end { acc += x[i] - x[i] }
            if !(acc == 0) {
                for i in start..<end where !x[i].isFinite && count < limit { count += 1; if first == nil { first = i } }
            }
            start = end
        }
        return (count, first)
    }

    /// The index of the first NaN or infinite value of `x`, if any.
    public static func first(_ x: [Float]) -> Int? { x.withUnsafeBufferPointer { scan($0, limit: 1).first } }
}
