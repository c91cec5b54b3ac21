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
        let r = try run(["doctor"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertTrue(r.out.contains("BLAS results: correct"), r.out)
        XCTAssertTrue(r.out.contains("GFLOP/s"), r.out)
    }

    func testSelfCheckPasses() throws {
        let r = try run(["selfcheck", "--samples", "8"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertTrue(r.out.contains(" 0 failed"), r.out)
    }
}
