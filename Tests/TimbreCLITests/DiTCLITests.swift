import Foundation
import XCTest
import TimbreAudio
import TimbreTestSupport

/// The generator end to end through `timbre`: a small-hop-256 VAE trained for a few steps on the
/// tiny corpus, its latents, `train dit` (Recipes/dit-tiny.json), `generate` for design, cloning
/// and tuning, the DiT `dump-step`, and the `eval dit` report. Plumbing, not quality.
final class DiTCLITests: XCTestCase {
    func testTrainGenerateEvaluate() throws {
        let repo = VAECLITests.repo
        let dir = TestSupport.tempDir("dit-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func run(_ args: [String]) throws -> String {
            let r = try TimbreBinary.run(args)
            XCTAssertEqual(r.status, 0, "timbre \(args.joined(separator: " ")): \(r.err)")
            return r.out
        }
        _ = try run(["corpus", "build", "--recipe", repo + "/Datasets/tiny.json", "--out", dir + "/corpus"])
        try #"""
        {"model_type": "vae", "seed": 1,
         "model": {"channels": 4, "multipliers": [1, 2, 2], "strides": [4, 8, 8], "latent_dim": 4},
         "data": {"crop_samples": 8192, "eval_clips": 0},
         "training": {"steps": 10, "batch_size": 2, "optimizer": {"lr": 0.001}, "checkpoint_every": 10, "keep_last": 1}}
        """#.write(toFile: dir + "/vae.json", atomically: true, encoding: .utf8)
        _ = try run(["train", "vae", "--recipe", dir + "/vae.json", "--data", dir + "/corpus", "--out", dir + "/vae", "--quiet"])
        _ = try run(["vae", "encode", "--checkpoint", dir + "/vae", "--data", dir + "/corpus", "--out", dir + "/latents"])
        _ = try run(["train", "dit", "--recipe", repo + "/Recipes/dit-tiny.json", "--data", dir + "/latents", "--vae", dir + "/vae",
                     "--out", dir + "/dit", "--quiet"])
        var losses: [Double] = []
        for line in try String(contentsOfFile: dir + "/dit/metrics.jsonl", encoding: .utf8).split(separator: "\n") {
            if let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let l = o["loss"] as? Double { losses.append(l) }
        }
        XCTAssertEqual(losses.count, 200)
        let head = losses.prefix(20).reduce(0, +) / 20, tail = losses.suffix(20).reduce(0, +) / 20
        XCTAssertLessThan(tail, head, "flow-matching loss \(head) → \(tail)")

        // A DiT trained on one VAE's latents refuses another VAE.
        let wrong = try TimbreBinary.run(["train", "dit", "--recipe", repo + "/Recipes/dit-tiny.json", "--data", dir + "/latents",
                                          "--vae", dir + "/nonexistent", "--out", dir + "/dit2"])
        XCTAssertNotEqual(wrong.status, 0)

        let common = ["generate", "--checkpoint", dir + "/dit", "--vae", dir + "/vae", "--steps", "4", "--seed", "7"]
        _ = try run(common + ["--script", "Hello there.", "--description", "A calm voice.", "--seconds", "1.5", "--out", dir + "/design.wav"])
        _ = try run(common + ["--script", "Hello there.", "--description", "A calm voice.", "--seconds", "1.5", "--out", dir + "/design2.wav"])
        let d1 = try AudioFile.read(dir + "/design.wav"), d2 = try AudioFile.read(dir + "/design2.wav")
        XCTAssertEqual(d1.samples, d2.samples, "same seed, same audio")
        // Lengths are whole tokens: patch 4 × hop 256 = 1024 samples.
        XCTAssertEqual(Double(d1.samples.count) / 44100, 1.5, accuracy: 1024.0 / 44100)
        let ref = dir + "/ref.wav"
        try TestSupport.run("espeak-ng", ["-v", "en-us", "-w", ref, "A reference voice for cloning."])
        _ = try run(common + ["--script", "Cloned words.", "--reference", ref, "--solver", "heun", "--out", dir + "/clone.wav"])
        _ = try run(common + ["--script", "A reference voice for cloning.", "--description", "In a large echoey hall.",
                              "--source", ref, "--t-start", "0.5", "--out", dir + "/tuned.wav"])
        let src = try Resampler.resample(try AudioFile.read(ref), to: 44100), tuned = try AudioFile.read(dir + "/tuned.wav")
        XCTAssertEqual(Double(tuned.samples.count), Double(src.samples.count), accuracy: 1024, "tuning keeps the source's length")

        // Every docs/design.md §6 metric for a pair, as JSON.
        let cmp = try run(["compare", ref, dir + "/clone.wav", "--script", "A reference voice for cloning.", "--json"])
        let metrics = try JSONSerialization.jsonObject(with: Data(cmp.utf8)) as! [String: Any]
        for k in ["si_sdr", "mel", "stft", "mrstft", "stoi", "estoi", "loudness", "loudness_ref", "f0_median_ref", "rt60_ref",
                  "active_seconds", "speaking_rate_ref", "speaker_sim", "voiced_recall"] {
            XCTAssertNotNil(metrics[k], "compare --json lacks \(k): \(metrics.keys.sorted())")
        }

        _ = try run(["debug", "dump-step", "--checkpoint", dir + "/dit", "--data", dir + "/latents", "--out", dir + "/dit-step.safetensors"])
        let dump = try TimbreBinary.python(["dump_safetensors.py", dir + "/dit-step.safetensors"]) as! [String: [String: Any]]
        XCTAssertEqual(dump["batch.script"]?["dtype"] as? String, "int64")
        XCTAssertNotNil(dump["batch.velocity"]); XCTAssertNotNil(dump["loss"])
        XCTAssertEqual(dump.keys.filter { $0.hasPrefix("param.") }.count, dump.keys.filter { $0.hasPrefix("grad.") }.count)

        try #"{"suite": "dit", "clone_pairs": 2, "seeds": 2, "steps": 2, "max_seconds": 2, "audio_clips": 1}"#
            .write(toFile: dir + "/eval.json", atomically: true, encoding: .utf8)
        _ = try run(["eval", "--recipe", dir + "/eval.json", "--checkpoint", dir + "/dit", "--vae", dir + "/vae", "--data", dir + "/corpus",
                     "--out", dir + "/report"])
        let m = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/report/metrics.json"))) as! [String: Any]
        XCTAssertEqual((m["cloning"] as? [String: Any])?.count, 4)
        let adherence = m["adherence"] as? [String: [String: Any]] ?? [:]
        XCTAssertEqual(adherence.keys.sorted(), ["pace", "pitch", "room", "tuned-pitch"])
        XCTAssertEqual((adherence["tuned-pitch"]?["pairs"] as? Double).map { $0 <= 2 }, true, "two seeds at most: \(adherence)")
        let use = m["conditioning_use"] as? [String: Double] ?? [:]
        XCTAssertEqual(use.count, 6)
        XCTAssertTrue(use.values.allSatisfy { $0.isFinite && $0 > 0 }, "\(use)")
        try ReportFiles.checkLinks(dir + "/report/report.html", expectAudio: 10, expectImages: 10)

        // The samples suite (the quickstart's demo) and the index over both reports.
        try #"""
            {"suite": "samples", "steps": 2, "max_seconds": 2, "prompts": [
              {"task": "design", "script": "Hello there.", "description": "A deep man.", "seed": 3},
              {"task": "clone", "script": "Hello again.", "description": "In a hall."},
              {"task": "tune", "description": "Speaking slowly.", "t_start": 0.5}]}
            """#.write(toFile: dir + "/samples.json", atomically: true, encoding: .utf8)
        _ = try run(["eval", "--recipe", dir + "/samples.json", "--checkpoint", dir + "/dit", "--vae", dir + "/vae", "--data", dir + "/corpus",
                     "--out", dir + "/index/samples"])
        // design: the output; clone and tune: the reference/source and the output
        try ReportFiles.checkLinks(dir + "/index/samples/report.html", expectAudio: 5, expectImages: 5)
        let sm = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/index/samples/metrics.json"))) as! [String: Any]
        let samples = sm["samples"] as! [[String: Any]]
        XCTAssertEqual(samples.map { $0["task"] as! String }, ["design", "clone", "tune"])
        XCTAssertEqual(samples[0]["clip"] as? String, "")
        XCTAssertNotEqual(samples[2]["clip"] as? String, "", "tune draws a source clip")
        XCTAssertNotEqual(samples[2]["script"] as? String, "", "tune speaks the source's transcript")
        _ = try run(["report-index", "--out", dir + "/index", "--title", "t", "--note", "a smoke test", dir + "/index/samples", dir + "/report"])
        let index = try String(contentsOfFile: dir + "/index/index.html", encoding: .utf8)
        XCTAssertTrue(index.contains("a smoke test"))
        XCTAssertTrue(index.contains("href=\"samples/report.html\""), "reports inside --out are linked relatively")
        XCTAssertTrue(index.contains("clone similarity"), "the dit report's headline is shown")
        let wavs = index.components(separatedBy: "src=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
        XCTAssertEqual(wavs.count, 3)
        for w in wavs { XCTAssertGreaterThan(try AudioFile.read(dir + "/index/" + w).samples.count, 0, w) }

        // A bad prompt is refused before any model loads, naming the recipe and the prompt.
        try #"{"suite": "samples", "prompts": [{"task": "clone", "description": "x"}]}"#
            .write(toFile: dir + "/bad.json", atomically: true, encoding: .utf8)
        let bad = try TimbreBinary.run(["eval", "--recipe", dir + "/bad.json", "--checkpoint", dir + "/dit", "--vae", dir + "/vae",
                                           "--data", dir + "/corpus", "--out", dir + "/bad"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("bad.json") && bad.err.contains("prompts[0]"), bad.err)
    }
}
