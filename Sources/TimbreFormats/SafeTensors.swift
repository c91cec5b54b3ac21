import Foundation

/// Element types of the safetensors format.
public enum SafeDType: String, Sendable, CaseIterable {
    case F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL
    public var size: Int {
        switch self {
        case .F64, .I64, .U64: return 8
        case .F32, .I32, .U32: return 4
        case .F16, .BF16, .I16, .U16: return 2
        case .I8, .U8, .BOOL: return 1
        }
    }
}

/// One tensor's entry in a safetensors header; offsets are relative to the data section.
public struct SafeTensorInfo: Sendable, Equatable {
    public var name: String
    public var dtype: SafeDType
    public var shape: [Int]
    public var begin: Int, end: Int
    public var count: Int { shape.reduce(1, *) }
}

/// A safetensors file (https://github.com/huggingface/safetensors format): an 8-byte little-endian
/// header length, a JSON header, then the tensors' bytes. Reading validates the header the way
/// the reference implementation does — a bounded header size, known dtypes, integer shapes,
/// `shape × dtype size = byte length`, and offsets that tile the data section exactly (no gaps,
/// no overlaps) — so a malformed file is an error that names the file and the problem.
public struct SafeTensorsFile {
    public static let maxHeaderBytes = 100_000_000
    public let path: String
    public let metadata: [String: String]
    /// Tensors in data order.
    public let tensors: [SafeTensorInfo]
    let index: [String: Int]
    let bytes: Data
    let dataStart: Int

    public subscript(name: String) -> SafeTensorInfo? { index[name].map { tensors[$0] } }

    /// Reads and validates a file (memory-mapped).
    public static func read(_ path: String) throws -> SafeTensorsFile {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw FormatError.io(path, "cannot read: \(error.localizedDescription)")
        }
        return try parse(data, path: path)
    }

    public static func parse(_ data: Data, path: String) throws -> SafeTensorsFile {
        func bad(_ m: String) -> FormatError { .malformed(path, "not a valid safetensors file: \(m)") }
        guard data.count >= 8 else { throw bad("\(data.count) bytes, shorter than the 8-byte header length") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(data[data.startIndex + i]) << (8 * UInt64(i)) }
        guard n <= UInt64(maxHeaderBytes) else { throw bad("header length \(n) exceeds the \(maxHeaderBytes)-byte limit") }
        guard 8 + Int(n) <= data.count else { throw bad("header length \(n) runs past the end of the \(data.count)-byte file") }
        let headerData = data.subdata(in: data.startIndex + 8 ..< data.startIndex + 8 + Int(n))
        guard headerData.first == UInt8(ascii: "{") else { throw bad("header does not start with '{'") }
        let json: Any
        do { _ = try JSONSyntax.check([UInt8](headerData), maxDepth: 8) } catch { throw bad("header is not valid JSON: \(error)") }
        do { json = try JSONSerialization.jsonObject(with: headerData) } catch { throw bad("header is not JSON (\(error.localizedDescription))") }
        guard let obj = json as? [String: Any] else { throw bad("header is not a JSON object") }
        let dataLength = data.count - 8 - Int(n)
        var metadata: [String: String] = [:]
        var infos: [SafeTensorInfo] = []
        for (key, value) in obj {
            if key == "__metadata__" {
                guard let m = value as? [String: Any] else { throw bad("__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw bad("__metadata__.\(k) is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let t = value as? [String: Any] else { throw bad("entry '\(key)' is not an object") }
            guard let ds = t["dtype"] as? String, let dtype = SafeDType(rawValue: ds) else {
                throw bad("tensor '\(key)' has unknown dtype \(t["dtype"].map { "\($0)" } ?? "(none)")")
            }
            guard let sh = t["shape"] as? [Any], let shape = integers(sh), shape.allSatisfy({ $0 >= 0 }) else {
                throw bad("tensor '\(key)' has an invalid shape \(t["shape"].map { "\($0)" } ?? "(none)")")
            }
            guard let off = t["data_offsets"] as? [Any], let o = integers(off), o.count == 2, o[0] >= 0, o[1] >= o[0] else {
                throw bad("tensor '\(key)' has invalid data_offsets \(t["data_offsets"].map { "\($0)" } ?? "(none)")")
            }
            let extra = Set(t.keys).subtracting(["dtype", "shape", "data_offsets"])
            if !extra.isEmpty { throw bad("tensor '\(key)' has unknown fields \(extra.sorted())") }
            var elements = 1
            for d in shape {
                let (p, overflow) = elements.multipliedReportingOverflow(by: d)
                if overflow { throw bad("tensor '\(key)' shape \(shape) overflows") }
                elements = p
            }
            let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.size)
            guard !overflow, bytes == o[1] - o[0] else {
                throw bad("tensor '\(key)': shape \(shape) × \(dtype.rawValue) is \(overflow ? "too large" : "\(bytes) bytes") but data_offsets span \(o[1] - o[0])")
            }
            guard o[1] <= dataLength else { throw bad("tensor '\(key)' data_offsets \(o) run past the \(dataLength)-byte data section") }
            infos.append(SafeTensorInfo(name: key, dtype: dtype, shape: shape, begin: o[0], end: o[1]))
        }
        infos.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var pos = 0
        for t in infos {
            if t.begin != pos {
                throw bad(t.begin < pos ? "tensor '\(t.name)' overlaps the tensor before it (starts at \(t.begin), previous ends at \(pos))"
                                        : "gap in the data section before tensor '\(t.name)' (\(pos)..<\(t.begin))")
            }
            pos = t.end
        }
        guard pos == dataLength else { throw bad("tensors cover \(pos) bytes of a \(dataLength)-byte data section") }
        var index: [String: Int] = [:]
        for (i, t) in infos.enumerated() { index[t.name] = i }
        return SafeTensorsFile(path: path, metadata: metadata, tensors: infos, index: index, bytes: data, dataStart: 8 + Int(n))
    }

    static func integers(_ a: [Any]) -> [Int]? {
        var out: [Int] = []
        for v in a {
            guard let num = v as? NSNumber, let i = Int(exactly: num.doubleValue) else { return nil }
            out.append(i)
        }
        return out
    }

    /// Calls `body` with the raw bytes of tensor `name`.
    public func withBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard let t = self[name] else { throw FormatError.missingTensor(file: path, name: name) }
        return try bytes.withUnsafeBytes { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[(dataStart + t.begin)..<(dataStart + t.end)]))
        }
    }

    /// Copies tensor `name` into `dst` as Float32 (converting F16, BF16, F64), after checking
    /// its shape equals `shape`. A NaN or infinite value is an error naming the tensor (after the
    /// copy) unless `allowNonFinite`.
    public func copyFloats(_ name: String, shape: [Int], into dst: UnsafeMutablePointer<Float>, allowNonFinite: Bool = false) throws {
        try copyFloatsUnchecked(name, shape: shape, into: dst)
        if !allowNonFinite, let t = self[name] {
            let (count, first) = NonFinite.scan(UnsafeBufferPointer(start: dst, count: t.count))
            if count > 0 { throw FormatError.nonFinite(file: path, name: name, count: count, first: first!) }
        }
    }

    func copyFloatsUnchecked(_ name: String, shape: [Int], into dst: UnsafeMutablePointer<Float>) throws {
        guard let t = self[name] else { throw FormatError.missingTensor(file: path, name: name) }
        guard t.shape == shape else { throw FormatError.shapeMismatch(file: path, name: name, expected: shape, actual: t.shape) }
        try withBytes(name) { raw in
            let n = t.count
            switch t.dtype {
            case .F32:
                if n > 0 { memcpy(dst, raw.baseAddress!, n * 4) }
            case .F16:
                for i in 0..<n { dst[i] = Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            case .BF16:
                for i in 0..<n { dst[i] = Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
            case .F64:
                for i in 0..<n { dst[i] = Float(raw.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
            default:
                throw FormatError.dtypeMismatch(file: path, name: name, expected: "F32, F16, BF16 or F64", actual: t.dtype.rawValue)
            }
        }
    }

    /// Tensor `name` as Float32 values (any float dtype); non-finite values are an error unless
    /// `allowNonFinite`.
    public func floats(_ name: String, allowNonFinite: Bool = false) throws -> [Float] {
        guard let t = self[name] else { throw FormatError.missingTensor(file: path, name: name) }
        var out = [Float](repeating: 0, count: t.count)
        try out.withUnsafeMutableBufferPointer { try copyFloats(name, shape: t.shape, into: $0.baseAddress!, allowNonFinite: allowNonFinite) }
        return out
    }
}

/// Writes safetensors files: tensors in the order given, header padded with spaces to 8 bytes,
/// the file written to a temporary name, fsync'ed and renamed (and the directory fsync'ed), so a
/// crash leaves either the old file or the complete new one. Returns the SHA-256 of the bytes.
public struct SafeTensorsWriter {
    public struct Entry {
        public var name: String, dtype: SafeDType, shape: [Int]
        public var bytes: UnsafeRawBufferPointer
        public init(name: String, dtype: SafeDType, shape: [Int], bytes: UnsafeRawBufferPointer) {
            self.name = name; self.dtype = dtype; self.shape = shape; self.bytes = bytes
        }
    }

    public static func header(_ entries: [Entry], metadata: [String: String]) -> Data {
        var parts: [String] = []
        if !metadata.isEmpty {
            let m = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
            parts.append("\"__metadata__\":{\(m)}")
        }
        var offset = 0
        for e in entries {
            let n = e.shape.reduce(1, *) * e.dtype.size
            precondition(n == e.bytes.count, "SafeTensorsWriter: \(e.name) has \(e.bytes.count) bytes for shape \(e.shape) \(e.dtype)")
            parts.append("\(jsonString(e.name)):{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":[\(e.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + n)]}")
            offset += n
        }
        var h = "{" + parts.joined(separator: ",") + "}"
        while (h.utf8.count % 8) != 0 { h += " " }
        var d = Data(count: 8)
        let len = UInt64(h.utf8.count)
        for i in 0..<8 { d[i] = UInt8(truncatingIfNeeded: len >> (8 * UInt64(i))) }
        d.append(contentsOf: Array(h.utf8))
        return d
    }

    /// The SHA-256 is computed on a second thread while this one writes (hashing runs at about
    /// the disk's speed, so doing both in turn would nearly halve the save rate).
    @discardableResult
    public static func write(_ path: String, _ entries: [Entry], metadata: [String: String] = [:]) throws -> String {
        let tmp = path + ".tmp-\(getpid())"
        let h = header(entries, metadata: metadata)
        let hasher = HashJob(header: h, entries: entries)
        let done = DispatchGroup()
        DispatchQueue.global().async(group: done) { hasher.run() }
        do {
            try FileIO.writeFile(tmp) { out in
                try out.write(h)
                for e in entries { try out.write(e.bytes) }
            }
        } catch {
            done.wait()
            throw error
        }
        done.wait()
        try FileIO.rename(tmp, path)
        return hasher.hex
    }

    /// A tensor whose bytes the caller hands over (built in memory, e.g. converted weights).
    public struct OwnedEntry {
        public var name: String, dtype: SafeDType, shape: [Int], data: Data
        public init(name: String, dtype: SafeDType, shape: [Int], data: Data) {
            self.name = name; self.dtype = dtype; self.shape = shape; self.data = data
        }
        public init<S: Sequence>(name: String, dtype: SafeDType, shape: [Int], values: S) where S.Element: BitwiseCopyable {
            self.init(name: name, dtype: dtype, shape: shape, data: Array(values).withUnsafeBytes { Data($0) })
        }
    }

    /// `write` for entries that own their bytes: all are laid out in one buffer, so their
    /// pointers stay valid for the whole write.
    @discardableResult
    public static func write(_ path: String, owned: [OwnedEntry], metadata: [String: String] = [:]) throws -> String {
        var blob = Data(), offsets: [Int] = []
        for e in owned { offsets.append(blob.count); blob.append(e.data) }
        return try blob.withUnsafeBytes { raw in
            let entries = owned.enumerated().map { i, e in
                Entry(name: e.name, dtype: e.dtype, shape: e.shape, bytes: UnsafeRawBufferPointer(rebasing: raw[offsets[i]..<(offsets[i] + e.data.count)]))
            }
            return try write(path, entries, metadata: metadata)
        }
    }

    /// Hashes the bytes a file will hold, on another thread (the entries' memory outlives it:
    /// `write` waits for the job before returning).
    final class HashJob: @unchecked Sendable {
        let header: Data, entries: [Entry]
        var hex = ""
        init(header: Data, entries: [Entry]) { self.header = header; self.entries = entries }
        func run() {
            let s = SHA256()
            s.update(header)
            for e in entries { if let b = e.bytes.baseAddress { s.update(b, e.bytes.count) } }
            hex = s.finalHex()
        }
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
