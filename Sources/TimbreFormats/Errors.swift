/// Errors a user can cause with files: each names the file and what is wrong.
public enum FormatError: Error, CustomStringConvertible, Equatable {
    case io(String, String)
    case malformed(String, String)
    case missingTensor(file: String, name: String)
    case shapeMismatch(file: String, name: String, expected: [Int], actual: [Int])
    case dtypeMismatch(file: String, name: String, expected: String, actual: String)
    case unknownKey(file: String, path: String)
    case invalidValue(file: String, path: String, reason: String)
    case nonFinite(file: String, name: String, count: Int, first: Int)

    public var description: String {
        switch self {
        case .io(let f, let m): return "\(f): \(m)"
        case .malformed(let f, let m): return "\(f): \(m)"
        case .missingTensor(let f, let n): return "\(f): tensor '\(n)' is missing"
        case .shapeMismatch(let f, let n, let e, let a): return "\(f): tensor '\(n)' has shape \(a), expected \(e)"
        case .dtypeMismatch(let f, let n, let e, let a): return "\(f): tensor '\(n)' has dtype \(a), expected \(e)"
        case .unknownKey(let f, let p): return "\(f): unknown key '\(p)' (misspelt, or not valid here)"
        case .invalidValue(let f, let p, let r): return "\(f): '\(p)': \(r)"
        case .nonFinite(let f, let n, let c, let i):
            return "\(f): tensor '\(n)' holds \(c) NaN or infinite value\(c == 1 ? "" : "s") (the first at flat index \(i)); the weights are unusable"
        }
    }
}
