import Foundation

/// Helpers shared by the test targets.
public enum TestSupport {
    /// Tests/python/NAME.
    public static func pythonScript(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("python/\(name)").path
    }

    public struct Failure: Error, CustomStringConvertible { public let description: String }

    /// The first index where `a` and `b` differ (NaN differs from everything), or where one ends
    /// before the other; nil when they are identical.
    public static func firstDifference<T: Equatable>(_ a: [T], _ b: [T]) -> Int? {
        (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? (a.count == b.count ? nil : min(a.count, b.count))
    }

    /// Runs a script of Tests/python with the reference environment (Recipes/test.sh sets
    /// TIMBRE_PYTHON to `.build/python/bin/python`) and returns its stdout parsed as JSON. A
    /// failing script is an error carrying its stderr.
    public static func python(_ script: String, _ args: [String]) throws -> Any {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [ProcessInfo.processInfo.environment["TIMBRE_PYTHON"] ?? "python3", pythonScript(script)] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let d = out.fileHandleForReading.readDataToEndOfFile()
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw Failure(description: "\(script) failed (are Tests/python/requirements.txt installed in TIMBRE_PYTHON's environment?): \(e)")
        }
        return try JSONSerialization.jsonObject(with: d)
    }

    /// A fresh directory under the system temporary directory.
    public static func tempDir(_ tag: String) -> String {
        let d = NSTemporaryDirectory() + "timbre-\(tag)-\(getpid())-\(UUID().uuidString.prefix(6))"
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// Runs a program found on PATH; throws with its stderr if it fails.
    public static func run(_ program: String, _ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [program] + args
        let err = Pipe()
        p.standardError = err; p.standardOutput = FileHandle.nullDevice
        try p.run()
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw Failure(description: "\(program) \(args.joined(separator: " ")) failed: \(e)") }
    }

    /// Writes samples as raw little-endian float32 (read in Python with numpy.fromfile).
    public static func writeF32(_ x: [Float], _ path: String) throws {
        try x.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: path))
    }
}
