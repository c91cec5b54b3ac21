import Foundation

/// A JSON (RFC 8259) syntax check that `JSONSerialization` and `JSONDecoder` do not make: every
/// error gives its line and column, a key repeated in one object is an error naming its path
/// (the Foundation readers silently keep one of the two), and numbers are recorded with their
/// path and place so a decoder's complaint about one can name it.
public enum JSONSyntax {
    public struct Number { public var path: String; public var text: String; public var range: Range<Int> }

    public struct Error: Swift.Error, CustomStringConvertible {
        public var line: Int, column: Int, message: String
        public var description: String { "line \(line), column \(column): \(message)" }
    }

    /// Line and column (1-based, counting characters) of byte offset `at`.
    public static func position(_ b: [UInt8], _ at: Int) -> (line: Int, column: Int) {
        var line = 1, col = 1
        for k in 0..<min(at, b.count) {
            if b[k] == 0x0A { line += 1; col = 1 } else if b[k] & 0xC0 != 0x80 { col += 1 }
        }
        return (line, col)
    }

    /// Checks `bytes` and returns every number in it (in file order).
    public static func check(_ bytes: [UInt8], maxDepth: Int = 512) throws(Error) -> [Number] {
        var p = Parser(b: bytes, maxDepth: maxDepth)
        p.skipSpace()
        try p.value(path: "", depth: 0)
        p.skipSpace()
        if p.i < bytes.count { throw p.fail("unexpected \(p.describeHere()) after the end of the JSON value") }
        return p.numbers
    }

    struct Parser {
        let b: [UInt8]
        let maxDepth: Int
        var i = 0
        var numbers: [Number] = []

        init(b: [UInt8], maxDepth: Int) { self.b = b; self.maxDepth = maxDepth }

        func position(_ at: Int) -> (Int, Int) { JSONSyntax.position(b, at) }
        func fail(_ m: String, at: Int? = nil) -> Error {
            let (l, c) = position(at ?? i)
            return Error(line: l, column: c, message: m)
        }
        func describeHere() -> String {
            guard i < b.count else { return "end of file" }
            let c = b[i]
            return c >= 0x20 && c < 0x7F ? "'\(Character(UnicodeScalar(c)))'" : String(format: "byte 0x%02X", c)
        }

        mutating func skipSpace() { while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 } }

        mutating func value(path: String, depth: Int) throws(Error) {
            guard depth < maxDepth else { throw fail("nested deeper than \(maxDepth) levels") }
            guard i < b.count else { throw fail("unexpected end of file, expected a value") }
            switch b[i] {
            case UInt8(ascii: "{"): try object(path: path, depth: depth)
            case UInt8(ascii: "["): try array(path: path, depth: depth)
            case UInt8(ascii: "\""): _ = try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number(path: path)
            default: throw fail("unexpected \(describeHere()), expected a value")
            }
        }

        mutating func literal(_ word: String) throws(Error) {
            let w = Array(word.utf8)
            guard i + w.count <= b.count, Array(b[i..<(i + w.count)]) == w else { throw fail("unexpected \(describeHere()), expected a value") }
            i += w.count
        }

        mutating func object(path: String, depth: Int) throws(Error) {
            i += 1
            var seen: [String: Int] = [:]
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return }
            while true {
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw fail("unexpected \(describeHere()), expected a key in double quotes") }
                let at = i
                let key = try string()
                let p = path.isEmpty ? key : "\(path).\(key)"
                if let first = seen[key] {
                    throw fail("duplicate key '\(p)' (first at line \(position(first).0), column \(position(first).1))", at: at)
                }
                seen[key] = at
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: ":") else { throw fail("unexpected \(describeHere()), expected ':' after key '\(p)'") }
                i += 1
                skipSpace()
                try value(path: p, depth: depth + 1)
                skipSpace()
                guard i < b.count else { throw fail("unexpected end of file, expected ',' or '}'") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; return }
                throw fail("unexpected \(describeHere()), expected ',' or '}' after the value of '\(p)'")
            }
        }

        mutating func array(path: String, depth: Int) throws(Error) {
            i += 1
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return }
            var n = 0
            while true {
                skipSpace()
                try value(path: "\(path)[\(n)]", depth: depth + 1)
                n += 1
                skipSpace()
                guard i < b.count else { throw fail("unexpected end of file, expected ',' or ']'") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "]") { i += 1; return }
                throw fail("unexpected \(describeHere()), expected ',' or ']'")
            }
        }

        mutating func string() throws(Error) -> String {
            let start = i
            i += 1
            var out: [UInt8] = []
            while true {
                guard i < b.count else { throw fail("string never closed", at: start) }
                let c = b[i]
                if c == UInt8(ascii: "\"") { i += 1; break }
                if c < 0x20 { throw fail("control character \(String(format: "0x%02X", c)) inside a string (escape it)") }
                if c == UInt8(ascii: "\\") {
                    guard i + 1 < b.count else { throw fail("string never closed", at: start) }
                    let e = b[i + 1]
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(8)
                    case UInt8(ascii: "f"): out.append(12)
                    case UInt8(ascii: "n"): out.append(10)
                    case UInt8(ascii: "r"): out.append(13)
                    case UInt8(ascii: "t"): out.append(9)
                    case UInt8(ascii: "u"):
                        guard i + 6 <= b.count, let v = UInt32(String(decoding: b[(i + 2)..<(i + 6)], as: UTF8.self), radix: 16) else {
                            throw fail("\\u must be followed by 4 hexadecimal digits")
                        }
                        // Surrogates are kept as U+FFFD here: only key comparison uses the text.
                        out.append(contentsOf: Array(String(UnicodeScalar(v).map(Character.init) ?? "\u{FFFD}").utf8))
                        i += 4
                    default: throw fail("invalid escape '\\\(Character(UnicodeScalar(e)))' in a string")
                    }
                    i += 2
                    continue
                }
                out.append(c)
                i += 1
            }
            guard let s = String(validating: out, as: UTF8.self) else { throw fail("string is not valid UTF-8", at: start) }
            return s
        }

        mutating func number(path: String) throws(Error) {
            let start = i
            func digits() -> Int { let s = i; while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }; return i - s }
            if b[i] == UInt8(ascii: "-") { i += 1 }
            guard i < b.count, b[i] >= 0x30, b[i] <= 0x39 else { throw fail("invalid number: '-' must be followed by a digit") }
            if b[i] == UInt8(ascii: "0") {
                i += 1
                if i < b.count, b[i] >= 0x30, b[i] <= 0x39 { throw fail("invalid number: leading zero", at: start) }
            } else { _ = digits() }
            if i < b.count, b[i] == UInt8(ascii: ".") {
                i += 1
                guard digits() > 0 else { throw fail("invalid number: '.' must be followed by a digit") }
            }
            if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
                i += 1
                if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
                guard digits() > 0 else { throw fail("invalid number: exponent without digits") }
            }
            numbers.append(Number(path: path.isEmpty ? "(top level)" : path, text: String(decoding: b[start..<i], as: UTF8.self), range: start..<i))
        }
    }
}
