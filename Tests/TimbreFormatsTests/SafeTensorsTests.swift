import Foundation
import XCTest
import TimbreFormats

final class SafeTensorsTests: XCTestCase {
    var dir: String!
    override func setUp() {
        dir = NSTemporaryDirectory() + "timbre-st-\(getpid())-\(UUID().uuidString.prefix(6))"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func writeSample(_ path: String) throws -> String {
        let a: [Float] = [1, -2, 3.5, 4, 5, 6]
        let b: [Double] = [0.25, 8]
        return try a.withUnsafeBytes { ab in
            try b.withUnsafeBytes { bb in
                try SafeTensorsWriter.write(path, [
                    .init(name: "layer.weight", dtype: .F32, shape: [2, 3], bytes: ab),
                    .init(name: "scale", dtype: .F64, shape: [2], bytes: bb),
                ], metadata: ["format": "timbre"])
            }
        }
    }

    func testRoundTripAndHash() throws {
        let path = dir + "/a.safetensors"
        let hash = try writeSample(path)
        XCTAssertEqual(hash, try SHA256.hex(ofFile: path), "the returned hash is the file's SHA-256")
        let f = try SafeTensorsFile.read(path)
        XCTAssertEqual(f.metadata["format"], "timbre")
        XCTAssertEqual(f["layer.weight"]?.shape, [2, 3])
        XCTAssertEqual(try f.floats("layer.weight"), [1, -2, 3.5, 4, 5, 6])
        XCTAssertEqual(try f.floats("scale"), [0.25, 8])
        var dst = [Float](repeating: 0, count: 6)
        XCTAssertThrowsError(try f.copyFloats("layer.weight", shape: [3, 2], into: &dst)) { e in
            XCTAssertEqual("\(e)", "\(path): tensor 'layer.weight' has shape [2, 3], expected [3, 2]")
        }
        XCTAssertThrowsError(try f.floats("missing")) { XCTAssertTrue("\($0)".contains("'missing' is missing")) }
        // no temporary file left behind
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["a.safetensors"])
    }

    func testSHA256KnownVector() {
        XCTAssertEqual(SHA256.hex(of: Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    /// A file with the given header JSON and data section.
    func file(_ header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
        var d = Data()
        let h = Array(header.utf8)
        var n = declaredLength ?? UInt64(h.count)
        for _ in 0..<8 { d.append(UInt8(n & 0xFF)); n >>= 8 }
        d.append(contentsOf: h)
        d.append(contentsOf: data)
        return d
    }

    func assertRejected(_ d: Data, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafeTensorsFile.parse(d, path: "bad.safetensors"), file: file, line: line) { e in
            XCTAssertTrue("\(e)".contains("bad.safetensors"), "error names the file: \(e)", file: file, line: line)
            XCTAssertTrue("\(e)".contains(fragment), "expected '\(fragment)' in: \(e)", file: file, line: line)
        }
    }

    func testMalformedFilesAreErrorsNotCrashes() throws {
        let good = try Data(contentsOf: URL(fileURLWithPath: { let p = dir + "/g.safetensors"; _ = try! writeSample(p); return p }()))
        XCTAssertNoThrow(try SafeTensorsFile.parse(good, path: "good"))
        // truncated: header intact, data cut short; and cut inside the header; and < 8 bytes
        assertRejected(good.prefix(good.count - 5), "run past")
        assertRejected(good.prefix(20), "runs past the end")
        assertRejected(good.prefix(5), "shorter than the 8-byte")
        // oversized header length
        assertRejected(file("{}", declaredLength: 1 << 40), "exceeds the 100000000-byte limit")
        // overlapping tensors
        let f4 = [UInt8](repeating: 0, count: 8)
        assertRejected(file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: f4), "overlaps")
        // a gap, and bytes no tensor covers
        assertRejected(file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: f4), "gap")
        assertRejected(file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: f4), "cover 4 bytes of a 8-byte")
        // wrong dtype: unknown, and one whose size disagrees with the offsets
        assertRejected(file(#"{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}"#, data: f4), "unknown dtype")
        assertRejected(file(#"{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}"#, data: f4), "data_offsets span 8")
        // shapes and offsets that are not non-negative integers; overflow
        assertRejected(file(#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: f4), "invalid shape")
        assertRejected(file(#"{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#, data: f4), "invalid shape")
        assertRejected(file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, data: f4), "invalid data_offsets")
        assertRejected(file(#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, data: f4), "overflows")
        // not JSON, not an object, bad metadata, unknown fields
        assertRejected(file("{nope", data: f4), "header is not valid JSON: line 1, column 2")
        assertRejected(file("[1,2]", data: f4), "does not start with '{'")
        assertRejected(file(#"{"__metadata__":{"k":3}}"#), "__metadata__.k is not a string")
        assertRejected(file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}"#, data: f4), "unknown fields")
        assertRejected(file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: f4),
                       "duplicate key 'a' (first at line 1, column 2)")
    }

    /// NaN and infinite values parse (the format allows them) but loading them is an error naming
    /// the tensor, unless asked for (inspect).
    func testNonFiniteTensorsAreNamedOnLoad() throws {
        let p = dir + "/nan.safetensors"
        try SafeTensorsWriter.write(p, owned: [.init(name: "ok", dtype: .F32, shape: [2], values: [Float(1), 2]),
                                               .init(name: "w", dtype: .F16, shape: [3], values: [Float16(1), .infinity, .nan])])
        let f = try SafeTensorsFile.read(p)
        XCTAssertEqual(try f.floats("ok"), [1, 2])
        XCTAssertThrowsError(try f.floats("w")) { e in
            XCTAssertEqual("\(e)", "\(p): tensor 'w' holds 2 NaN or infinite values (the first at flat index 1); the weights are unusable")
        }
        XCTAssertEqual(try f.floats("w", allowNonFinite: true).map { $0.isFinite }, [true, false, false])
    }

    /// Random corruptions of a valid file either parse or throw; none may crash.
    func testMutatedFilesNeverCrash() throws {
        let p = dir + "/m.safetensors"
        _ = try writeSample(p)
        let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: p)))
        var state: UInt64 = 12345
        func next() -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(state >> 33) }
        var rejected = 0
        for _ in 0..<3000 {
            var b = good
            for _ in 0..<(1 + next() % 4) {
                let i = next() % b.count
                switch next() % 3 {
                case 0: b[i] = UInt8(next() % 256)
                case 1: b.remove(at: i)
                default: b.insert(UInt8(next() % 256), at: i)
                }
            }
            do {
                let f = try SafeTensorsFile.parse(Data(b), path: "m")
                for t in f.tensors where t.dtype == .F32 || t.dtype == .F64 { _ = try f.floats(t.name) }
            } catch { rejected += 1 }
        }
        XCTAssertGreaterThan(rejected, 1000)
    }
}

final class StrictJSONTests: XCTestCase {
    struct Inner: Codable { var lr: Double; var betas: [Double]? }
    struct Outer: Codable { var name: String; var inner: Inner; var list: [Inner]? }

    func decode(_ s: String) throws -> Outer { try StrictJSON.decode(Outer.self, from: Data(s.utf8), file: "r.json") }

    func testAcceptsKnownKeys() throws {
        let o = try decode(#"{"name":"x","inner":{"lr":0.1,"betas":[0.9,0.99]},"list":[{"lr":1}]}"#)
        XCTAssertEqual(o.inner.betas ?? [], [0.9, 0.99])
    }

    func testUnknownKeysNamedWithTheirPath() {
        XCTAssertThrowsError(try decode(#"{"name":"x","inner":{"lr":0.1,"beta":[1]}}"#)) {
            XCTAssertEqual("\($0)", "r.json: unknown key 'inner.beta' (misspelt, or not valid here)")
        }
        XCTAssertThrowsError(try decode(#"{"name":"x","inner":{"lr":0.1},"list":[{"lr":1},{"lr":2,"lrr":3}]}"#)) {
            XCTAssertTrue("\($0)".contains("'list[1].lrr'"), "\($0)")
        }
    }

    func testMissingAndMistypedValues() {
        XCTAssertThrowsError(try decode(#"{"name":"x","inner":{}}"#)) { XCTAssertTrue("\($0)".contains("'inner.lr': required key is missing"), "\($0)") }
        XCTAssertThrowsError(try decode(#"{"name":"x","inner":{"lr":"fast"}}"#)) { XCTAssertTrue("\($0)".contains("'inner.lr': expected Double"), "\($0)") }
        XCTAssertThrowsError(try decode("{not json")) { XCTAssertTrue("\($0)".hasPrefix("r.json"), "\($0)") }
    }
}
