import Foundation
import XCTest

/// Training through the `timbre` executable: a run killed with SIGKILL and resumed reproduces
/// the uninterrupted run's per-step losses exactly; SIGTERM saves and exits 0; recipe typos are
/// errors naming the key.
final class TrainCLITests: XCTestCase {
    var dir: String!
    var recipe: String { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Recipes/mlp-tiny.json").path }

    override func setUp() {
        dir = NSTemporaryDirectory() + "timbre-cli-\(getpid())-\(UUID().uuidString.prefix(6))"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func start(_ args: [String]) throws -> Process {
        let p = Process()
        p.executableURL = TimbreBinary.url
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    func losses(_ out: String) throws -> [Int: String] {
        var r: [Int: String] = [:]
        for line in try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n") {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            XCTAssertNil(r[o["step"] as! Int], "step \(o["step"]!) logged twice")
            r[o["step"] as! Int] = "\(o["loss"]!)"
        }
        return r
    }

    func waitFor(_ path: String, _ p: Process, timeout: Double = 60) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end && p.isRunning {
            if FileManager.default.fileExists(atPath: path) { return true }
            usleep(2000)
        }
        return FileManager.default.fileExists(atPath: path)
    }

    func testKilledRunResumesWithIdenticalLosses() throws {
        let steps = "3000"
        let a = dir + "/a", b = dir + "/b"
        let full = try TimbreBinary.run(["train", "mlp", "--recipe", recipe, "--out", a, "--steps", steps, "--quiet"])
        XCTAssertEqual(full.status, 0, full.err)
        let p = try start(["train", "mlp", "--recipe", recipe, "--out", b, "--steps", steps, "--quiet"])
        XCTAssertTrue(waitFor(b + "/step-00000250", p), "no checkpoint appeared")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal, "the run finished before it could be killed")
        let killedAt = try losses(b).keys.max()!
        XCTAssertLessThan(killedAt, 3000)
        let resumed = try TimbreBinary.run(["train", "mlp", "--recipe", recipe, "--out", b, "--steps", steps, "--resume", "auto"])
        XCTAssertEqual(resumed.status, 0, resumed.err)
        let la = try losses(a), lb = try losses(b)
        XCTAssertEqual(la.count, 3000)
        XCTAssertEqual(lb, la, "per-step losses differ after resume (killed at step \(killedAt))")
    }

    func testSigtermSavesCheckpointAndExitsZero() throws {
        let out = dir + "/t"
        let p = try start(["train", "mlp", "--recipe", recipe, "--out", out, "--steps", "100000", "--quiet"])
        XCTAssertTrue(waitFor(out + "/step-00000050", p))
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit)
        XCTAssertEqual(p.terminationStatus, 0)
        let last = try losses(out).keys.max()!
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + String(format: "/step-%08d/state.json", last)),
                      "no checkpoint at the last logged step \(last)")
        let i = try TimbreBinary.runJSON(["inspect", out])
        XCTAssertEqual(i.status, 0, i.err)
        XCTAssertEqual(i.json["step"] as? Int, last)
        let fc1 = TimbreBinary.tensors(i.json)["fc1.weight"]
        XCTAssertEqual(fc1?.dtype, "F32")
        XCTAssertEqual(fc1?.shape, [32, 8])
    }

    func testRecipeTypoIsAnErrorNamingTheKey() throws {
        var text = try String(contentsOfFile: recipe, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"weight_decay\"", with: "\"weight_decy\"")
        let bad = dir + "/bad.json"
        try text.write(toFile: bad, atomically: true, encoding: .utf8)
        let r = try TimbreBinary.run(["train", "mlp", "--recipe", bad, "--out", dir + "/x"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("unknown key 'training.optimizer.weight_decy'"), r.err)
        XCTAssertTrue(r.err.contains(bad), r.err)
        let n = try TimbreBinary.run(["train", "mlp", "--recipe", dir + "/none.json", "--out", dir + "/x"])
        XCTAssertNotEqual(n.status, 0)
        XCTAssertTrue(n.err.contains("none.json"), n.err)
    }
}
