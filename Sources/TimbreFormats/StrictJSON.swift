import Foundation

/// Strict JSON decoding for recipes and configs: a key the type does not know (a typo such as
/// `"learning_rte"`) is an error naming its path, instead of being silently ignored as
/// `JSONDecoder` does. Decoding errors are rewritten to name the file and the key path.
///
/// How: decode with `JSONDecoder`, encode the result back, and walk the original JSON alongside
/// the re-encoded one; every key present in the original must be present in the re-encoding.
/// (A key the type decoded is always re-encoded: optional fields the file set are non-nil.)
public enum StrictJSON {
    /// Decodes `data` as `T`. First `JSONSyntax.check`: a syntax error gives its line and column,
    /// a repeated key its path. A number the type cannot hold (`"steps": 1.5`, `1e30` for an
    /// integer, `1e999` anywhere) is named with its key path and the expected type. With
    /// `allowUnknownKeys` (files Timbre wrote itself, such as a corpus manifest, which older
    /// versions may have written with other keys) keys the type does not know are ignored.
    public static func decode<T: Codable>(_ type: T.Type, from data: Data, file: String, allowUnknownKeys: Bool = false) throws -> T {
        let bytes = [UInt8](data)
        let numbers: [JSONSyntax.Number]
        do { numbers = try JSONSyntax.check(bytes) } catch { throw FormatError.malformed(file, "not valid JSON: \(error)") }
        let value: T
        do { value = try JSONDecoder().decode(T.self, from: data) } catch let e as DecodingError {
            if case .dataCorrupted(let ctx) = e, ctx.codingPath.isEmpty, let bad = unrepresentable(T.self, bytes, numbers, file: file) { throw bad }
            throw describe(e, file: file)
        } catch {
            throw FormatError.malformed(file, "not valid JSON: \(error.localizedDescription)")
        }
        if allowUnknownKeys { return value }
        let original = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        let reencoded = try JSONSerialization.jsonObject(with: JSONEncoder().encode(value), options: [.fragmentsAllowed])
        if let path = firstUnknownKey(original, reencoded, path: "") { throw FormatError.unknownKey(file: file, path: path) }
        return value
    }

    public static func decode<T: Codable>(_ type: T.Type, fromFile path: String, allowUnknownKeys: Bool = false) throws -> T {
        guard let data = FileManager.default.contents(atPath: path) else {
            let why = FileManager.default.fileExists(atPath: path) ? "cannot read file" : "no such file"
            throw FormatError.io(path, why)
        }
        return try decode(type, from: data, file: path, allowUnknownKeys: allowUnknownKeys)
    }

    /// Which number `JSONDecoder` could not store (it says only "not valid JSON", without a path):
    /// one beyond Double's range, or the first whose replacement by `1` changes the decoder's
    /// complaint (a fraction or a huge value where the type wants an integer).
    static func unrepresentable<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], _ numbers: [JSONSyntax.Number], file: String) -> FormatError? {
        for n in numbers where !(Double(n.text)?.isFinite ?? false) {
            return .invalidValue(file: file, path: n.path, reason: "the number \(n.text) is beyond the range of a 64-bit float (±1.8e308)")
        }
        for n in numbers where n.text.contains(where: { ".eE".contains($0) }) || Int(n.text) == nil {
            var patched = bytes
            patched.replaceSubrange(n.range, with: Array("1".utf8))
            do { _ = try JSONDecoder().decode(T.self, from: Data(patched)) } catch let DecodingError.dataCorrupted(ctx) where ctx.codingPath.isEmpty {
                continue
            } catch {}
            let integral = Double(n.text).map { $0 == $0.rounded() } ?? false
            return .invalidValue(file: file, path: n.path, reason: "expected an integer, found \(n.text)" + (integral ? " (beyond the 64-bit integer range)" : ""))
        }
        return nil
    }

    static func firstUnknownKey(_ a: Any, _ b: Any, path: String) -> String? {
        if let da = a as? [String: Any] {
            let db = b as? [String: Any] ?? [:]
            for k in da.keys.sorted() {
                let p = path.isEmpty ? k : "\(path).\(k)"
                guard let vb = db[k] else { return p }
                if let inner = firstUnknownKey(da[k]!, vb, path: p) { return inner }
            }
        } else if let aa = a as? [Any], let ab = b as? [Any] {
            for (i, v) in aa.enumerated() where i < ab.count {
                if let inner = firstUnknownKey(v, ab[i], path: "\(path)[\(i)]") { return inner }
            }
        }
        return nil
    }

    static func pathString(_ ctx: DecodingError.Context, _ extra: CodingKey? = nil) -> String {
        var keys = ctx.codingPath
        if let extra { keys.append(extra) }
        var s = ""
        for k in keys {
            if let i = k.intValue { s += "[\(i)]" } else { s += s.isEmpty ? k.stringValue : ".\(k.stringValue)" }
        }
        return s.isEmpty ? "(top level)" : s
    }

    static func describe(_ e: DecodingError, file: String) -> FormatError {
        switch e {
        case .keyNotFound(let k, let ctx):
            return .invalidValue(file: file, path: pathString(ctx, k), reason: "required key is missing")
        case .typeMismatch(let t, let ctx):
            return .invalidValue(file: file, path: pathString(ctx), reason: "expected \(t)")
        case .valueNotFound(let t, let ctx):
            return .invalidValue(file: file, path: pathString(ctx), reason: "expected \(t), found null")
        case .dataCorrupted(let ctx):
            return .invalidValue(file: file, path: pathString(ctx), reason: ctx.debugDescription)
        @unknown default:
            return .malformed(file, "\(e)")
        }
    }
}

/// JSON has no NaN or infinity: `finite` turns every non-finite Double in a
/// `JSONSerialization` value (nested dictionaries and arrays included) into null.
public enum JSONNumbers {
    public static func finite(_ v: Any) -> Any {
        if let d = v as? Double { return d.isFinite ? d : NSNull() }
        if let a = v as? [Any] { return a.map(finite) }
        if let o = v as? [String: Any] { return o.mapValues(finite) }
        return v
    }
}
