import Foundation
import XCTest
import TimbreTestSupport

/// The built `timbre` executable, run as a user would.
enum TimbreBinary {
    static var url: URL {
        // The test bundle sits next to the executable in the build products directory.
        var dir = Bundle(for: CLITests.self).bundleURL.deletingLastPathComponent()
        if !FileManager.default.fileExists(atPath: dir.appendingPathComponent("timbre").path) {
            dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/release")
        }
        return dir.appendingPathComponent("timbre")
    }

    static func python(_ args: [String]) throws -> [String: Any] {
        try TestSupport.python(args[0], Array(args.dropFirst())) as! [String: Any]
    }

    /// Runs a command with `--json FILE` and returns its exit status, output and that JSON.
    static func runJSON(_ args: [String]) throws -> (status: Int32, out: String, err: String, json: [String: Any]) {
        let file = NSTemporaryDirectory() + "timbre-cli-\(getpid())-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let r = try run(args + ["--json", file])
        let data = FileManager.default.contents(atPath: file) ?? Data("{}".utf8)
        return (r.status, r.out, r.err, try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:])
    }

    /// `inspect --json`'s tensors by name: (dtype, shape).
    static func tensors(_ inspected: [String: Any]) -> [String: (dtype: String, shape: [Int])] {
        var r: [String: (dtype: String, shape: [Int])] = [:]
        for t in inspected["tensors"] as? [[String: Any]] ?? [] { r[t["name"] as! String] = (t["dtype"] as! String, t["shape"] as! [Int]) }
        return r
    }

    static func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = url
        p.arguments = args
        let o = Pipe(), e = Pipe()
        p.standardOutput = o; p.standardError = e
        try p.run()
        let od = o.fileHandleForReading.readDataToEndOfFile(), ed = e.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: od, as: UTF8.self), String(decoding: ed, as: UTF8.self))
    }
}

final class CLITests: XCTestCase {
    func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) { try TimbreBinary.run(args) }

    func testHelpListsCommands() throws {
        let r = try run(["--help"])
        XCTAssertEqual(r.status, 0)
        for cmd in ["doctor", "selfcheck", "bench"] { XCTAssertTrue(r.out.contains(cmd), "--help lacks \(cmd):\n\(r.out)") }
        let b = try run(["bench", "layers", "--help"])
        XCTAssertTrue(b.out.contains("sgemm"), b.out)
    }

    func testVersion() throws {
        let r = try run(["--version"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.out.range(of: #"^\d+\.\d+\.\d+"#, options: .regularExpression) != nil, r.out)
    }

    func testUnknownCommandFailsWithReason() throws {
        let r = try run(["frobnicate"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("frobnicate"), r.err)
    }

    func testDoctorChecksBLAS() throws {
        let r = try TimbreBinary.runJSON(["doctor"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertEqual(r.json["wrong_products"] as? [String], [], r.out)
        XCTAssertGreaterThan(r.json["products_checked"] as? Int ?? 0, 0, r.out)
        XCTAssertGreaterThan(r.json["sgemm_gflops_2_threads"] as? Double ?? 0, 0, r.out)
    }

    func testSelfCheckPasses() throws {
        let r = try TimbreBinary.runJSON(["selfcheck", "--samples", "8"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        let rows = r.json["rows"] as? [[String: Any]] ?? []
        XCTAssertGreaterThan(rows.count, 100, "every layer, loss and model case")
        XCTAssertEqual(r.json["failed"] as? Int, 0, r.out)
        XCTAssertTrue(rows.allSatisfy { $0["passed"] as? Bool == true })
    }
}
