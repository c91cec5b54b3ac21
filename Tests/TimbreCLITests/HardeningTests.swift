import Foundation
import XCTest
import TimbreTestSupport
import TimbreFormats

/// Malformed and hostile inputs through `timbre`, each asserting the exit status and the message:
/// non-finite, empty and too-short audio; NaN weights whose hashes match; out-of-range recipe
/// values and options; resume with every checkpoint corrupt; flipped shard bytes; path escapes;
/// duplicate keys; and the mutation fuzzer over the parsers.
final class HardeningTests: XCTestCase {
    var dir = ""
    override func setUp() { dir = TestSupport.tempDir("hard") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) { try TimbreBinary.run(args) }

    /// Asserts the exit status and that stderr (or stdout) contains every fragment.
    func expect(_ args: [String], status: Int32, _ fragments: String..., file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try run(args)
        XCTAssertEqual(r.status, status, "\(args.joined(separator: " ")):\n\(r.out)\n\(r.err)", file: file, line: line)
        for f in fragments { XCTAssertTrue((r.err + r.out).contains(f), "'\(f)' missing for \(args.joined(separator: " ")):\n\(r.err)\(r.out)", file: file, line: line) }
    }

    /// A 32-bit float WAV (libsndfile writes NaN as given in this format).
    static func floatWAV(_ x: [Float], rate: Int = 44100, to path: String) throws {
        func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        func le16(_ v: Int) -> [UInt8] { (0..<2).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        var d = Array("RIFF".utf8) + le32(36 + 4 * x.count) + Array("WAVEfmt ".utf8) + le32(16)
        d += le16(3) + le16(1) + le32(rate) + le32(rate * 4) + le16(4) + le16(32) + Array("data".utf8) + le32(4 * x.count)
        for v in x { d += le32(Int(v.bitPattern)) }
        try Data(d).write(to: URL(fileURLWithPath: path))
    }

    static func tone(_ hz: Double, seconds: Double = 1) -> [Float] {
        (0..<Int(seconds * 44100)).map { Float(0.3 * sin(2 * Double.pi * hz * Double($0) / 44100)) }
    }

    func testAudioWeightsAndShardsFromAHostileUser() throws {
        let audio = dir + "/audio"
        try FileManager.default.createDirectory(atPath: audio, withIntermediateDirectories: true)
        var rows = ["file,text,speaker"]
        for (i, hz) in [110.0, 130, 150, 170, 190, 210].enumerated() {
            try Self.floatWAV(Self.tone(hz), to: "\(audio)/c\(i).wav")
            rows.append("c\(i).wav,clip \(i),\(i < 3 ? "ann" : "bob")")
        }
        var nan = Self.tone(140)
        nan[22050] = .nan
        try Self.floatWAV(nan, to: "\(audio)/nan.wav")
        try Self.floatWAV(Self.tone(140), to: dir + "/outside.wav")
        rows += ["nan.wav,a clip with a NaN,ann", "../outside.wav,escapes,bob"]
        try (rows.joined(separator: "\n") + "\n").write(toFile: dir + "/meta.csv", atomically: true, encoding: .utf8)

        // import: options checked, a negative --lufs accepted as written, the NaN file and the
        // path escape skipped and counted
        let importArgs = ["corpus", "import", "--audio", audio, "--metadata", dir + "/meta.csv", "--out", dir + "/corpus", "--held-out-speakers", "1"]
        try expect(importArgs + ["--held-out-fraction", "5"], status: 64, "--held-out-fraction must be in [0, 1)")
        try expect(importArgs + ["--lufs", "nan"], status: 64, "--lufs must be")
        try expect(importArgs + ["--lufs", "-23"], status: 0, "skipped: 2")
        let manifest = try String(contentsOfFile: dir + "/corpus/manifest.json", encoding: .utf8)
        XCTAssertTrue(manifest.contains("\"non-finite samples\" : 1"), manifest)
        XCTAssertTrue(manifest.contains("sample 22050 (at 0.500000 s) is NaN"), manifest)
        XCTAssertTrue(manifest.contains("resolves outside the --audio folder"), manifest)
        try expect(["corpus", "info", dir + "/corpus", "--verify"], status: 0, "verified: 6 clips")
        let shard = try FileManager.default.contentsOfDirectory(atPath: dir + "/corpus").filter { $0.hasPrefix("train-") }[0]
        let py = try TimbreBinary.python(["shards.py", "read", dir + "/corpus/" + shard])
        XCTAssertEqual(py["fletcher32"] as? [String: Bool], ["audio": true, "offsets": true])

        // a tiny VAE to run the audio commands with
        var recipe = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: VAECLITests.repo + "/Recipes/vae-tiny.json"))) as! [String: Any]
        var training = recipe["training"] as! [String: Any]
        training["steps"] = 2; training["checkpoint_every"] = 2
        recipe["training"] = training
        recipe["data"] = ["crop_samples": 8192, "eval_clips": 1]
        try JSONSerialization.data(withJSONObject: recipe).write(to: URL(fileURLWithPath: dir + "/vae.json"))
        recipe["data"] = ["crop_samples": 1 << 24, "eval_clips": 1]
        training["batch_size"] = 4096
        recipe["training"] = training
        try JSONSerialization.data(withJSONObject: recipe).write(to: URL(fileURLWithPath: dir + "/huge.json"))
        try expect(["train", "vae", "--recipe", dir + "/huge.json", "--data", dir + "/corpus", "--out", dir + "/huge"], status: 1,
                   "a training step of 4096 × crop_samples 16777216 per micro-batch would need about")
        try expect(["train", "vae", "--recipe", dir + "/vae.json", "--data", dir + "/corpus", "--out", dir + "/ck", "--quiet"], status: 0)
        let ck = dir + "/ck/step-00000002"

        try Self.floatWAV([], to: dir + "/empty.wav")
        try Self.floatWAV([0.1], to: dir + "/one.wav")
        try Self.floatWAV(Self.tone(150, seconds: 0.2), to: dir + "/short.wav")
        let ok = "\(audio)/c0.wav"
        let rec = ["vae", "reconstruct", "--checkpoint", ck]
        try expect(rec + ["\(audio)/nan.wav", dir + "/o.wav"], status: 1, "nan.wav: sample 22050 (at 0.500000 s) is NaN")
        try expect(rec + [dir + "/empty.wav", dir + "/o.wav"], status: 1, "empty.wav: 0.000 s of audio is too short", "one latent frame")
        try expect(rec + [dir + "/one.wav", dir + "/o.wav"], status: 1, "one.wav", "too short")
        try expect(rec + [ok, ok], status: 64, "is the input")
        try expect(rec + [ok, dir + "/o.mp3"], status: 64, "must end in .wav or .flac")
        try expect(rec + ["--chunk", "0", ok, dir + "/o.wav"], status: 64, "--chunk must be between 1 and 1048576")
        try expect(rec + ["--chunk=-3", ok, dir + "/o.wav"], status: 64, "--chunk must be between 1 and 1048576")
        try expect(rec + [ok, dir + "/o.wav"], status: 0, "SI-SDR")
        try expect(["compare", dir + "/empty.wav", ok], status: 1, "empty.wav", "too short")
        try expect(["compare", dir + "/short.wav", ok], status: 1, "short.wav: 0.200 s of audio is too short", "at least 0.500 s")
        try expect(["compare", "\(audio)/nan.wav", ok], status: 1, "is NaN")

        // generate's options are checked before any model is loaded
        let gen = ["generate", "--checkpoint", dir + "/none", "--vae", ck, "--script", "hello", "--out", dir + "/g.wav"]
        for (args, message) in [(["--seconds", "nan"], "--seconds must be"), (["--seconds", "1e30"], "--seconds must be"),
                                (["--seconds", "0"], "--seconds must be"), (["--steps", "0"], "--steps must be in 1…1000"),
                                (["--cfg-text", "inf"], "--cfg-text must be"), (["--sway", "nan"], "--sway must be")] {
            try expect(gen + args, status: 64, message)
        }

        // NaN weights whose hashes match: loading names the tensor; inspect counts them
        let bad = dir + "/nan-ck"
        try FileManager.default.copyItem(atPath: ck, toPath: bad)
        let weights = bad + "/model.safetensors"
        let f = try SafeTensorsFile.read(weights)
        let t = try XCTUnwrap(f["encoder.conv_in.bias"], "\(f.tensors.map(\.name))")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: weights))
        let at = bytes.count - (f.tensors.last!.end - t.begin)
        bytes.replaceSubrange(at..<(at + 4), with: withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { Data($0) })
        try bytes.write(to: URL(fileURLWithPath: weights))
        var state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: bad + "/state.json"))) as! [String: Any]
        var hashes = state["hashes"] as! [String: String]
        hashes["model.safetensors"] = try SHA256.hex(ofFile: weights)
        state["hashes"] = hashes
        try JSONSerialization.data(withJSONObject: state).write(to: URL(fileURLWithPath: bad + "/state.json"))
        try expect(rec.dropLast() + [bad, ok, dir + "/o2.wav"], status: 1, "tensor 'encoder.conv_in.bias' holds 1 NaN or infinite value")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/o2.wav"), "nothing written")
        try expect(["inspect", bad], status: 0, "1 NaN/Inf", "non-finite values: 1 in 1 tensor (encoder.conv_in.bias)")
        try expect(["inspect", ck], status: 0, "non-finite values: none")

        // a flipped 4 KB in the middle of a shard is a checksum error, not different audio
        let shardPath = dir + "/corpus/" + shard
        var sb = try Data(contentsOf: URL(fileURLWithPath: shardPath))
        let mid = sb.count / 2
        for k in mid..<(mid + 4096) { sb[k] ^= 0x5A }
        try sb.write(to: URL(fileURLWithPath: shardPath))
        try expect(["corpus", "info", dir + "/corpus", "--verify"], status: 1, "Fletcher-32 checksum does not match")

        // a manifest naming a shard outside the corpus
        try manifest.replacingOccurrences(of: "\"file\" : \"\(shard)\"", with: "\"file\" : \"../../etc/passwd\"")
            .write(toFile: dir + "/corpus/manifest.json", atomically: true, encoding: .utf8)
        try expect(["corpus", "info", dir + "/corpus"], status: 1, "'../../etc/passwd' resolves outside the corpus folder")
    }

    func testRecipeValuesAndJSONAreChecked() throws {
        let base = try String(contentsOfFile: VAECLITests.repo + "/Recipes/mlp-tiny.json", encoding: .utf8)
        func train(_ text: String) throws -> (status: Int32, out: String, err: String) {
            try text.write(toFile: dir + "/r.json", atomically: true, encoding: .utf8)
            return try run(["train", "mlp", "--recipe", dir + "/r.json", "--out", dir + "/out-\(UUID().uuidString.prefix(6))", "--quiet"])
        }
        let cases: [(String, String, String)] = [
            (#""hidden": 32"#, #""hidden": 0"#, "'model': model.hidden must be in 1…65536, got 0"),
            (#""inputs": 8"#, #""inputs": -3"#, "model.inputs must be in 1…65536, got -3"),
            (#""hidden": 32"#, #""hidden": 1000000000"#, "model.hidden must be in 1…65536, got 1000000000"),
            (#""hidden": 32"#, #""hidden": 65536"#, "would need about"),
            (#""steps": 200"#, #""steps": 1.5"#, "'training.steps': expected an integer, found 1.5"),
            (#""steps": 200"#, #""steps": 1e30"#, "'training.steps': expected an integer, found 1e30 (beyond the 64-bit integer range)"),
            (#""lr": 0.003"#, #""lr": 1e999"#, "'training.optimizer.lr': the number 1e999 is beyond the range"),
            (#""lr": 0.003"#, #""lr": 0.003, "lr": 0.1"#, "duplicate key 'training.optimizer.lr'"),
            (#""steps": 200,"#, #""steps": 200"#, "line 7, column 5: unexpected '\"', expected ',' or '}' after the value of 'training.steps'"),
            (#""weight_decay": 0.01"#, #""weight_decay": -1"#, "'training.optimizer.weight_decay': must be a finite number ≥ 0"),
            (#""min_lr_ratio": 0.1"#, #""min_lr_ratio": 2"#, "'training.schedule.min_lr_ratio': must be in [0, 1]"),
            (#""steps": 200"#, #""steps": 0"#, "'training.steps': must be in 1…1000000000, got 0"),
        ]
        for (from, to, message) in cases {
            XCTAssertTrue(base.contains(from), from)
            let r = try train(base.replacingOccurrences(of: from, with: to))
            XCTAssertEqual(r.status, 1, "\(to): \(r.err)")
            XCTAssertTrue(r.err.contains(message), "\(to): expected '\(message)' in\n\(r.err)")
            XCTAssertFalse(r.err.contains("Usage:"), r.err)
        }
        // a file error reads like the rest, not as "NSCocoaErrorDomain Code=512"
        try "x".write(toFile: dir + "/file", atomically: true, encoding: .utf8)
        try expect(["train", "mlp", "--recipe", VAECLITests.repo + "/Recipes/mlp-tiny.json", "--out", dir + "/file/run"], status: 1,
                   "\(dir)/file/run: not a directory")
    }

    func testResumeNeverDestroysHistory() throws {
        let recipe = VAECLITests.repo + "/Recipes/mlp-tiny.json"
        let text = try String(contentsOfFile: recipe, encoding: .utf8)
        try text.replacingOccurrences(of: #""steps": 200"#, with: #""steps": 50"#).replacingOccurrences(of: #""keep_last": 2"#, with: #""keep_last": 3"#)
            .write(toFile: dir + "/r50.json", atomically: true, encoding: .utf8)
        let out = dir + "/run"
        try expect(["train", "mlp", "--recipe", dir + "/r50.json", "--out", out, "--quiet"], status: 0)
        let metrics = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8)
        XCTAssertEqual(metrics.split(separator: "\n").count, 50)

        // every checkpoint corrupt: an error listing them, and nothing changed
        let saved = dir + "/saved"
        try FileManager.default.copyItem(atPath: out, toPath: saved)
        for s in ["step-00000025", "step-00000050"] {
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(out)/\(s)/model.safetensors"))
            try h.seekToEnd(); try h.write(contentsOf: Data([0])); try h.close()
        }
        try expect(["train", "mlp", "--recipe", dir + "/r50.json", "--out", out, "--resume", "auto", "--steps", "60"], status: 1,
                   "none of the 2 checkpoints", "step-00000025", "step-00000050", "nothing in \(out) was changed", "To start afresh")
        XCTAssertEqual(try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8), metrics, "metrics.jsonl untouched")
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix("step-") }), ["step-00000025", "step-00000050"])

        // resumed from an earlier checkpoint with keep_last 1: the new checkpoint survives, and
        // the later one (another history) is kept
        try text.replacingOccurrences(of: #""steps": 200"#, with: #""steps": 50"#).replacingOccurrences(of: #""keep_last": 2"#, with: #""keep_last": 1"#)
            .write(toFile: dir + "/r1.json", atomically: true, encoding: .utf8)
        try expect(["train", "mlp", "--recipe", dir + "/r1.json", "--out", saved, "--resume", saved + "/step-00000025", "--steps", "30"], status: 0,
                   "holds 1 checkpoint after step 25 (step-00000050)")
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: saved).filter { $0.hasPrefix("step-") }), ["step-00000030", "step-00000050"])
        XCTAssertEqual(try String(contentsOfFile: saved + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").count, 30, "truncated to step 25, then 5 more")

        // a fresh start into a directory with history keeps that history
        let fresh = dir + "/fresh"
        try FileManager.default.createDirectory(atPath: fresh, withIntermediateDirectories: true)
        try metrics.write(toFile: fresh + "/metrics.jsonl", atomically: true, encoding: .utf8)
        try expect(["train", "mlp", "--recipe", dir + "/r50.json", "--out", fresh, "--steps", "5"], status: 0, "moved to")
        let kept = try FileManager.default.contentsOfDirectory(atPath: fresh).filter { $0.hasPrefix("metrics-before-") }
        XCTAssertEqual(kept.count, 1)
        XCTAssertEqual(try String(contentsOfFile: fresh + "/" + kept[0], encoding: .utf8), metrics)
    }

    func testFuzzedParsersNeitherCrashNorPassNonFinite() throws {
        let t0 = Date()
        let r = try TimbreBinary.runJSON(["debug", "fuzz", "--inputs", "25000", "--seed", "7"])
        XCTAssertEqual(r.status, 0, r.out + r.err)  // a crash would end the process with a signal
        let targets = r.json["targets"] as? [[String: Any]] ?? []
        XCTAssertEqual(targets.map { $0["target"] as? String }, ["safetensors", "recipe", "manifest", "wav"], r.out)
        for t in targets {
            XCTAssertEqual(t["inputs"] as? Int, 25000)
            XCTAssertEqual(t["slow"] as? Int, 0, "\(t)")
            XCTAssertEqual(t["non_finite"] as? Int, 0, "\(t)")
            // near-valid mutations get past the first check: some inputs of every target are accepted
            XCTAssertGreaterThan(t["accepted"] as? Int ?? 0, 100, "\(t)")
        }
        print("fuzz: \(targets) (\(String(format: "%.0f", Date().timeIntervalSince(t0))) s)")
    }
}
