import Foundation
import XCTest
import TimbreTestSupport

/// Data-parallel training under `mpirun` (docs/distributed.md): two ranks with one micro-batch
/// each against one process with two, to the bit; the non-finite guard across ranks; a killed
/// rank ending the job; and an exact resume after it. Skipped, with the reason printed, only
/// where `mpirun` is not installed (`Recipes/setup.sh` installs it).
final class DistributedTests: XCTestCase {
    var dir = ""
    override func setUp() { dir = TestSupport.tempDir("mpi") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    static let mpirun: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        .map { "\($0)/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }

    func requireMPI() throws -> String {
        guard let m = Self.mpirun else {
            print("DistributedTests skipped: no mpirun on PATH (Debian: apt install openmpi-bin libopenmpi-dev, as Recipes/setup.sh does)")
            throw XCTSkip("no mpirun on PATH")
        }
        return m
    }

    /// One thread per process, so that one process and two ranks run the same kernels; Open MPI
    /// refuses root (CI) unless told.
    static let environment: [String: String] = ProcessInfo.processInfo.environment.merging(
        ["TIMBRE_THREADS": "1", "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]) { $1 }

    /// Starts `timbre args` (under `mpirun -np ranks` when ranks > 0).
    func start(_ args: [String], ranks: Int = 0) throws -> (Process, Pipe) {
        let p = Process()
        if ranks > 0 {
            p.executableURL = URL(fileURLWithPath: try requireMPI())
            p.arguments = ["--oversubscribe", "-np", String(ranks), TimbreBinary.url.path] + args
        } else {
            p.executableURL = TimbreBinary.url
            p.arguments = args
        }
        p.environment = Self.environment
        let out = Pipe()
        p.standardOutput = out; p.standardError = out
        try p.run()
        return (p, out)
    }

    @discardableResult
    func run(_ args: [String], ranks: Int = 0, status: Int32 = 0, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let (p, out) = try start(args, ranks: ranks)
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, status, "\(ranks) ranks: timbre \(args.joined(separator: " ")):\n\(text)", file: file, line: line)
        return text
    }

    func recipe(_ base: String, micro: Int, _ edit: (inout [String: Any]) -> Void = { _ in }) throws -> String {
        var r = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "Recipes/\(base).json"))) as! [String: Any]
        var t = r["training"] as! [String: Any]
        t["micro_batches"] = micro
        r["training"] = t
        edit(&r)
        let path = "\(dir)/\(base)-micro\(micro)-\(UUID().uuidString.prefix(4)).json"
        try JSONSerialization.data(withJSONObject: r).write(to: URL(fileURLWithPath: path))
        return path
    }

    func lossLines(_ out: String) throws -> [[String: Double]] {
        try String(contentsOfFile: "\(out)/metrics.jsonl", encoding: .utf8).split(separator: "\n").compactMap { line in
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            guard obj["eval"] == nil else { return nil }
            return obj.compactMapValues { $0 as? Double }.filter { !["seconds", "samples_per_s"].contains($0.key) }
        }
    }

    func assertSameFiles(_ a: String, _ b: String, _ names: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        for n in names {
            let x = try Data(contentsOf: URL(fileURLWithPath: "\(a)/\(n)")), y = try Data(contentsOf: URL(fileURLWithPath: "\(b)/\(n)"))
            XCTAssertTrue(x == y, "\(n) differs between \(a) and \(b)", file: file, line: line)
        }
    }

    func testTwoRanksMatchOneProcessOnTheMLP() throws {
        _ = try requireMPI()
        let one = try recipe("mlp-tiny", micro: 2), two = try recipe("mlp-tiny", micro: 1)
        // Micro-batch 5 is step 3's second: rank 1's alone in the job of two.
        try run(["train", "mlp", "--recipe", one, "--out", dir + "/one", "--quiet", "--nan-gradient-at", "5"])
        let log = try run(["train", "mlp", "--recipe", two, "--out", dir + "/two", "--nan-gradient-at", "5"], ranks: 2)
        for out in ["/one", "/two"] {
            let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + out + "/step-00000200/state.json"))) as! [String: Any]
            XCTAssertEqual(state["skipped_steps"] as? Int, 1, "\(out): step 3's NaN gradient skips exactly one step\n\(log)")
        }
        let a = try lossLines(dir + "/one"), b = try lossLines(dir + "/two")
        XCTAssertEqual(a.count, 200)
        XCTAssertEqual(a, b, "metrics.jsonl losses differ")
        XCTAssertEqual(a[2]["step"], 3)
        XCTAssertNil(a[2]["loss"], "step 3 should be skipped: \(a[2])")
        try assertSameFiles(dir + "/one/step-00000200", dir + "/two/step-00000200", ["model.safetensors", "ema.safetensors", "optimizer.safetensors"])

        // A batch that does not split over the job is a named error, whichever rank reads it.
        let odd = try recipe("mlp-tiny", micro: 2) { r in var t = r["training"] as! [String: Any]; t["batch_size"] = 6; r["training"] = t }
        let err = try run(["train", "mlp", "--recipe", odd, "--out", dir + "/odd"], ranks: 2, status: 1)
        XCTAssertTrue(err.contains("training.batch_size 6 must divide by ranks × micro_batches = 2 × 2 = 4"), err)
    }

    func testTwoRanksMatchOneProcessOnThePitchVAEAndAKilledRankResumesExactly() throws {
        _ = try requireMPI()
        let corpus = try toneCorpus()
        func vae(_ micro: Int) throws -> String {
            try recipe("vae-tiny", micro: micro) { r in
                var m = r["model"] as! [String: Any]; m["pitch"] = ["amplitude": 1.0, "harmonics": 8]; r["model"] = m
                var l = r["losses"] as! [String: Any]; l["adversarial"] = 0.1; r["losses"] = l
                r["adversarial"] = ["start_step": 4, "filters": 4, "n_ffts": [256, 128], "periods": [2, 3]]
                var d = r["data"] as! [String: Any]; d["eval_clips"] = 1; d["max_clips"] = 6; r["data"] = d
                var t = r["training"] as! [String: Any]; t["steps"] = 12; t["checkpoint_every"] = 6; r["training"] = t
            }
        }
        let one = try vae(2), two = try vae(1)
        try run(["train", "vae", "--recipe", one, "--out", dir + "/one", "--data", corpus, "--quiet"])
        try run(["train", "vae", "--recipe", two, "--out", dir + "/two", "--data", corpus, "--quiet"], ranks: 2)
        let files = ["model.safetensors", "optimizer.safetensors", "discriminator.safetensors", "discriminator-optimizer.safetensors"]
        XCTAssertEqual(try lossLines(dir + "/one"), try lossLines(dir + "/two"), "metrics.jsonl losses differ")
        try assertSameFiles(dir + "/one/step-00000012", dir + "/two/step-00000012", files)

        // Encoding under two ranks shares the shards and writes the same latents and statistics.
        let ck = dir + "/one/step-00000012"
        try run(["vae", "encode", "--checkpoint", ck, "--data", corpus, "--out", dir + "/latents1"])
        let encoded = try run(["vae", "encode", "--checkpoint", ck, "--data", corpus, "--out", dir + "/latents2"], ranks: 2)
        XCTAssertTrue(encoded.contains("on 2 ranks"), encoded)
        let shards = try FileManager.default.contentsOfDirectory(atPath: dir + "/latents1").filter { $0.hasSuffix(".latent.h5") }.sorted()
        XCTAssertGreaterThanOrEqual(shards.count, 2)
        XCTAssertEqual(shards, try FileManager.default.contentsOfDirectory(atPath: dir + "/latents2").filter { $0.hasSuffix(".latent.h5") }.sorted())
        let compare = try TimbreBinary.python(["compare_latent_shards.py", dir + "/latents1", dir + "/latents2"])
        XCTAssertEqual(compare["shards"] as? Int, shards.count, "\(compare)")
        XCTAssertEqual(compare["differing"] as? [String], [], "\(compare)")
        XCTAssertLessThan(compare["stats_max_rel"] as? Double ?? 1, 1e-6, "\(compare)")

        // The vae eval suite shares its clips between ranks; rank 0 writes the same scores.
        for (n, out) in [(0, "/eval1"), (2, "/eval2")] {
            try run(["eval", "--recipe", "Recipes/eval-vae.json", "--vae", ck, "--data", corpus, "--out", dir + out], ranks: n)
        }
        func systems(_ out: String) throws -> [[String: Any]] {
            let m = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + out + "/metrics.json"))) as! [String: Any]
            return m["systems"] as! [[String: Any]]
        }
        let s1 = try systems("/eval1"), s2 = try systems("/eval2")
        XCTAssertEqual(s1.count, 3)  // the checkpoint and two anchors
        XCTAssertTrue(NSArray(array: s1).isEqual(to: s2), "eval metrics differ between one process and two ranks")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/eval1/audio/0-reconstruction.wav")),
                       try Data(contentsOf: URL(fileURLWithPath: dir + "/eval2/audio/0-reconstruction.wav")))
        let refused = try run(["eval", "--recipe", "Recipes/eval-speakers.json", "--data", corpus, "--out", dir + "/eval3"], ranks: 2, status: 1)
        XCTAssertTrue(refused.contains("only the 'vae' suite shares its clips"), refused)

        // Kill rank 1 once the step-6 checkpoint is written: the job ends, non-zero, within the bound.
        let (job, out) = try start(["train", "vae", "--recipe", two, "--out", dir + "/killed", "--data", corpus, "--quiet"], ranks: 2)
        let waitStart = Date()
        while !FileManager.default.fileExists(atPath: dir + "/killed/step-00000006") {
            XCTAssertTrue(job.isRunning, "the job ended before its first checkpoint")
            if !job.isRunning || Date().timeIntervalSince(waitStart) > 300 { return }
            usleep(100_000)
        }
        let children = Self.children(of: job.processIdentifier)
        XCTAssertEqual(children.count, 2, "mpirun's children: \(children)")
        let killedAt = Date()
        kill(children.max()!, SIGKILL)
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        job.waitUntilExit()
        let seconds = Date().timeIntervalSince(killedAt)
        print(String(format: "DistributedTests: the job exited %.1f s after a rank was killed, status %d", seconds, job.terminationStatus))
        XCTAssertNotEqual(job.terminationStatus, 0, text)
        XCTAssertLessThan(seconds, 60, "the job outlived its killed rank by \(seconds) s")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/killed/step-00000012"))

        _ = try run(["train", "vae", "--recipe", two, "--out", dir + "/killed", "--data", corpus, "--resume", "auto"], ranks: 2)
        try assertSameFiles(dir + "/two/step-00000012", dir + "/killed/step-00000012", files)
        XCTAssertEqual(try lossLines(dir + "/two"), try lossLines(dir + "/killed"))
    }

    /// Seven 1-second harmonic tones at 100–250 Hz of two speakers, imported as a corpus.
    func toneCorpus() throws -> String {
        let audio = dir + "/audio"
        try FileManager.default.createDirectory(atPath: audio, withIntermediateDirectories: true)
        var rows = ["file,text,speaker"]
        for (i, hz) in [100.0, 130, 160, 190, 220, 250, 140].enumerated() {
            var x = [Float](repeating: 0, count: 44100)
            for k in 1...4 {
                let w = 2 * Double.pi * hz * Double(k) / 44100, a = 0.1 / Double(k)
                for n in x.indices { x[n] += Float(a * sin(w * Double(n))) }
            }
            try HardeningTests.floatWAV(x, to: "\(audio)/t\(i).wav")
            rows.append("t\(i).wav,tone \(i),\(i % 2 == 0 ? "ann" : "bob")")
        }
        try (rows.joined(separator: "\n") + "\n").write(toFile: dir + "/meta.csv", atomically: true, encoding: .utf8)
        try run(["corpus", "import", "--audio", audio, "--metadata", dir + "/meta.csv", "--out", dir + "/corpus", "--held-out-speakers", "1"])
        return dir + "/corpus"
    }

    /// The processes whose parent is `pid` (from /proc).
    static func children(of pid: Int32) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { name -> Int32? in
            guard let p = Int32(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid ? p : nil
        }
    }
}
