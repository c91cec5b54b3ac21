import Foundation
import XCTest
import TimbreAudio
import TimbreEval

/// The VAE end to end through `timbre`, one feature per test over a shared fixture: the tiny
/// corpus and Recipes/vae-tiny.json overfitted on four of its clips, built once for the class.
final class VAECLITests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// What the tests share: built on first use, removed when the class finishes. Later pieces
    /// (the release, the adversarial runs) are made by the first test that needs them.
    final class Fixture: @unchecked Sendable {
        let dir = NSTemporaryDirectory() + "timbre-vae-\(getpid())-\(UUID().uuidString.prefix(6))"
        var corpus: String { dir + "/corpus" }
        var ck: String { dir + "/ck" }
        private let lock = NSLock()
        private var built: Set<String> = []

        init() throws {
            let c = try TimbreBinary.run(["corpus", "build", "--recipe", VAECLITests.repo + "/Datasets/tiny.json", "--out", dir + "/corpus"])
            guard c.status == 0 else { throw FixtureError("corpus build: \(c.err)") }
            let t = try TimbreBinary.run(["train", "vae", "--recipe", VAECLITests.repo + "/Recipes/vae-tiny.json", "--data", corpus,
                                          "--out", ck, "--quiet"])
            guard t.status == 0 else { throw FixtureError("train vae: \(t.err)") }
        }

        /// Runs `make` once per key; later calls return at once.
        func once(_ key: String, _ make: () throws -> Void) throws {
            lock.lock(); defer { lock.unlock() }
            if built.contains(key) { return }
            try make()
            built.insert(key)
        }

        /// An fp16 release of the newest checkpoint.
        func release() throws -> String {
            try once("release") {
                let x = try TimbreBinary.run(["export", "--checkpoint", ck, "--out", dir + "/release"])
                guard x.status == 0 else { throw FixtureError("export: \(x.err)") }
            }
            return dir + "/release"
        }

        /// A recipe of vae-tiny with the adversarial stage from step 2 (4 steps, checkpoints every 2).
        func adversarialRecipe() throws -> [String: Any] {
            var adv = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: VAECLITests.repo + "/Recipes/vae-tiny.json"))) as! [String: Any]
            var training = adv["training"] as! [String: Any]
            training["steps"] = 4; training["checkpoint_every"] = 2
            adv["training"] = training
            adv["adversarial"] = ["filters": 4, "n_ffts": [256, 128], "periods": [2, 3], "start_step": 1]
            return adv
        }

        /// The adversarial fine-tune of `ck`, 4 steps at once (`adv-a`).
        func adversarialRun() throws -> String {
            try once("adv-a") {
                try JSONSerialization.data(withJSONObject: try adversarialRecipe()).write(to: URL(fileURLWithPath: dir + "/adv.json"))
                let r = try TimbreBinary.run(["train", "vae", "--recipe", dir + "/adv.json", "--data", corpus, "--out", dir + "/adv-a",
                                              "--quiet", "--init-from", ck])
                guard r.status == 0 else { throw FixtureError("adversarial run: \(r.err)") }
            }
            return dir + "/adv-a"
        }
    }

    struct FixtureError: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

    nonisolated(unsafe) static var shared: Result<Fixture, Error>?
    static let sharedLock = NSLock()

    /// The class's fixture, built on first use (a failure fails every test that needs it).
    func fixture() throws -> Fixture {
        Self.sharedLock.lock(); defer { Self.sharedLock.unlock() }
        if Self.shared == nil { Self.shared = Result { try Fixture() } }
        return try Self.shared!.get()
    }

    override class func tearDown() {
        if case .success(let f)? = shared { try? FileManager.default.removeItem(atPath: f.dir) }
        shared = nil
        super.tearDown()
    }

    /// `mrstft` per step and the held-out evaluations of a run's metrics.jsonl.
    func metrics(_ out: String) throws -> (steps: [Int: [String: Any]], evals: [[String: Double]]) {
        var steps: [Int: [String: Any]] = [:], evals: [[String: Double]] = []
        for line in try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n") {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            if let e = o["eval"] as? [String: Double] { evals.append(e) } else { steps[o["step"] as! Int] = o }
        }
        return (steps, evals)
    }

    func testTinyVAEOverfitsAFewClips() throws {
        let f = try fixture()
        let (steps, evals) = try metrics(f.ck)
        let mr = steps.compactMapValues { $0["mrstft"] as? Double }
        XCTAssertEqual(mr.count, 150)
        let first = (1...5).map { mr[$0]! }.reduce(0, +) / 5, last = (146...150).map { mr[$0]! }.reduce(0, +) / 5
        XCTAssertGreaterThanOrEqual(first / last, 3, "MR-STFT loss \(first) → \(last)")
        XCTAssertEqual(evals.count, 3, "held-out metrics at each checkpoint")
        XCTAssertNotNil(evals.last?["si_sdr"])
        XCTAssertNotNil(evals.last?["voiced_recall"], "pitch agreement in the held-out evaluation")
        XCTAssertLessThan(evals.last!["mrstft"]!, evals.first!["mrstft"]!)
        XCTAssertLessThan(evals.last!["mel"]!, evals.first!["mel"]!, "held-out mel distance falls")
        let names = TimbreBinary.tensors(try TimbreBinary.runJSON(["inspect", f.ck]).json)
        XCTAssertNotNil(names["encoder.blocks.1.res.2.conv1.weight_v"], "\(names.keys.sorted().prefix(8))")
        XCTAssertNotNil(names["decoder.conv_out.weight_g"])
    }

    /// The decoder alone fine-tuned from those weights (training.freeze): every encoder tensor is
    /// exactly what it started from, the decoder's moved.
    func testDecoderOnlyFineTuneKeepsTheEncoder() throws {
        let f = try fixture(), dir = f.dir
        let ft = try String(contentsOfFile: Self.repo + "/Recipes/vae-tiny.json", encoding: .utf8)
            .replacingOccurrences(of: #""steps": 150,"#, with: #""steps": 10, "freeze": ["encoder."],"#)
        XCTAssertTrue(ft.contains("freeze"))
        try ft.write(toFile: dir + "/ft.json", atomically: true, encoding: .utf8)
        let r = try TimbreBinary.run(["train", "vae", "--recipe", dir + "/ft.json", "--data", f.corpus, "--out", dir + "/ft",
                                      "--init-from", f.ck])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("frozen (training.freeze [\"encoder.\"])"), r.err)
        let w0 = try TimbreBinary.python(["dump_safetensors.py", f.ck + "/step-00000150/model.safetensors"]) as! [String: [String: Any]]
        let w1 = try TimbreBinary.python(["dump_safetensors.py", dir + "/ft/step-00000010/model.safetensors"]) as! [String: [String: Any]]
        XCTAssertEqual(Set(w0.keys), Set(w1.keys))
        var moved = 0
        for (k, v) in w0 {
            let same = (v["sum"] as! Double) == (w1[k]!["sum"] as! Double) && (v["first"] as! [Double]) == (w1[k]!["first"] as! [Double])
            if k.hasPrefix("encoder.") { XCTAssertTrue(same, "frozen \(k) changed") } else if !same { moved += 1 }
        }
        XCTAssertGreaterThan(moved, w0.keys.filter { $0.hasPrefix("decoder.") }.count / 2, "most decoder tensors train")
    }

    /// The adversarial stage from step 2: 4 steps at once, and 2 steps then resumed to 4, log the
    /// same losses and save the same VAE and discriminator; the discriminator is saved beside the
    /// model, never in it.
    func testAdversarialStageResumesExactly() throws {
        let f = try fixture(), dir = f.dir
        let a = try f.adversarialRun()
        for extra in [["--init-from", f.ck, "--steps", "2"], ["--resume", "auto"]] {
            let r = try TimbreBinary.run(["train", "vae", "--recipe", dir + "/adv.json", "--data", f.corpus, "--out", dir + "/adv-b", "--quiet"] + extra)
            XCTAssertEqual(r.status, 0, r.err)
        }
        let sa = try metrics(a).steps, sb = try metrics(dir + "/adv-b").steps
        XCTAssertEqual(sa.keys.sorted(), [1, 2, 3, 4])
        XCTAssertNil(sa[1]!["discriminator"], "the stage starts after step 1")
        for s in 2...4 {
            XCTAssertNotNil(sa[s]!["discriminator"] as? Double, "step \(s)")
            for k in ["loss", "discriminator", "adversarial", "feature_matching"] {
                XCTAssertEqual(sa[s]![k] as? Double, sb[s]![k] as? Double, "resumed run: \(k) at step \(s)")
            }
        }
        let hashes = { (out: String) throws -> [String: String] in
            let o = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/step-00000004/state.json"))) as! [String: Any]
            return o["hashes"] as! [String: String]
        }
        let ha = try hashes(a), hb = try hashes(dir + "/adv-b")
        XCTAssertEqual(Set(ha.keys), ["model.safetensors", "optimizer.safetensors", "discriminator.safetensors", "discriminator-optimizer.safetensors"])
        for file in ["model.safetensors", "discriminator.safetensors", "discriminator-optimizer.safetensors"] {
            XCTAssertNotNil(ha[file], file)
            XCTAssertEqual(ha[file], hb[file], "\(file) after resume")
        }
        let w0 = try TimbreBinary.python(["dump_safetensors.py", f.ck + "/step-00000150/model.safetensors"]) as! [String: [String: Any]]
        let wa = try TimbreBinary.python(["dump_safetensors.py", a + "/step-00000004/model.safetensors"]) as! [String: [String: Any]]
        XCTAssertEqual(Set(wa.keys), Set(w0.keys), "model.safetensors holds the VAE alone")
        let da = try TimbreBinary.python(["dump_safetensors.py", a + "/step-00000004/discriminator.safetensors"]) as! [String: [String: Any]]
        XCTAssertTrue(da.keys.contains("discriminators.1.conv_post.weight_v"), "\(da.keys.sorted().prefix(4))")
        XCTAssertTrue(da.keys.contains("periods.1.conv_post.weight_v"), "\(da.keys.sorted().suffix(4))")
    }

    /// A period below 2, and an adversarial loss weight without the section, are errors naming the key.
    func testAdversarialRecipeErrorsNameTheirKeys() throws {
        let f = try fixture(), dir = f.dir
        var adv = try f.adversarialRecipe()
        adv["adversarial"] = ["periods": [2, 1]]
        try JSONSerialization.data(withJSONObject: adv).write(to: URL(fileURLWithPath: dir + "/bad-periods.json"))
        let badPeriods = try TimbreBinary.run(["train", "vae", "--recipe", dir + "/bad-periods.json", "--data", f.corpus, "--out", dir + "/bad-periods"])
        XCTAssertNotEqual(badPeriods.status, 0)
        XCTAssertTrue(badPeriods.err.contains("adversarial.periods"), badPeriods.err)
        adv.removeValue(forKey: "adversarial")
        adv["losses"] = ["mrstft": 1.0, "feature_matching": 5.0]
        try JSONSerialization.data(withJSONObject: adv).write(to: URL(fileURLWithPath: dir + "/no-adv.json"))
        let noAdv = try TimbreBinary.run(["train", "vae", "--recipe", dir + "/no-adv.json", "--data", f.corpus, "--out", dir + "/no-adv"])
        XCTAssertNotEqual(noAdv.status, 0)
        XCTAssertTrue(noAdv.err.contains("losses.feature_matching") && noAdv.err.contains("no 'adversarial' section"), noAdv.err)
    }

    /// An evaluation report over every checkpoint with the fp16 release as baseline: fp16 weights
    /// score like the fp32 EMA weights they came from.
    func testEvalReportScoresEveryCheckpointAndTheRelease() throws {
        let f = try fixture(), dir = f.dir
        let release = try f.release()
        try #"{"suite": "vae", "clips": 4, "max_seconds": 2, "audio_clips": 2}"#.write(toFile: dir + "/eval.json", atomically: true, encoding: .utf8)
        let ev = try TimbreBinary.run(["eval", "--recipe", dir + "/eval.json", "--vae", f.ck, "--each-checkpoint",
                                       "--baseline", release, "--data", f.corpus, "--out", dir + "/report"])
        XCTAssertEqual(ev.status, 0, ev.err)
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/report/metrics.json"))) as! [String: Any]
        let systems = report["systems"] as! [[String: Any]]
        XCTAssertEqual(systems.map { $0["name"] as! String }, ["step-00000100", "step-00000150", "baseline: release",
                                                               "anchor: band-limited to 8 kHz", "anchor: band-limited to 4 kHz"], "the recipe keeps 2 checkpoints")
        XCTAssertEqual(report["main"] as? String, "step-00000150")
        let main = systems[1]["overall"] as! [String: Double], fp16 = systems[2]["overall"] as! [String: Double]
        for k in ["mel", "stft", "mrstft", "stoi", "estoi"] {
            XCTAssertEqual(fp16[k]!, main[k]!, accuracy: 0.01 * max(1, abs(main[k]!)), "fp16 release vs checkpoint: \(k)")
        }
        XCTAssertEqual((systems[1]["clips"] as! [Any]).count, 4)
        XCTAssertNotNil(main["voiced_recall"], "pitch agreement in the VAE suite")
        let anchor = systems[3]["overall"] as! [String: Double]
        XCTAssertGreaterThan(anchor["voiced_recall"] ?? 0, 0.9, "an original band-limited to 8 kHz keeps its voicing")
        XCTAssertLessThan(anchor["f0_rmse"] ?? .infinity, 5, "an original band-limited to 8 kHz keeps its pitch")
        try ReportFiles.checkLinks(dir + "/report/report.html", expectAudio: 6, expectImages: 6)
    }

    /// Reconstructing a 22.05 kHz file of another voice; a release whose weights do not match
    /// release.json is refused, naming the file.
    func testReconstructAnotherVoiceAndRefuseATamperedRelease() throws {
        let f = try fixture(), dir = f.dir
        let wav = dir + "/in.wav"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["espeak-ng", "-v", "en-us+f3", "-w", wav, "Reconstruct this sentence, please."]
        try p.run(); p.waitUntilExit()
        let r = try TimbreBinary.run(["vae", "reconstruct", "--checkpoint", f.ck, wav, dir + "/out.wav", "--chunk", "8"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("SI-SDR"), r.out)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/out.wav"))

        try FileManager.default.copyItem(atPath: try f.release(), toPath: dir + "/tampered")
        let fh = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/tampered/model.safetensors"))
        try fh.seek(toOffset: 4000); try fh.write(contentsOf: Data([1, 2, 3])); try fh.close()
        let bad = try TimbreBinary.run(["vae", "reconstruct", "--checkpoint", dir + "/tampered", wav, dir + "/x.wav"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("tampered") && bad.err.contains("SHA-256"), bad.err)
    }

    /// Encoding the corpus into latent shards that name the VAE's weights and carry checksums.
    func testEncodeWritesLatentShardsNamingTheVAE() throws {
        let f = try fixture(), dir = f.dir
        let e = try TimbreBinary.run(["vae", "encode", "--checkpoint", f.ck, "--data", f.corpus, "--out", dir + "/latents"])
        XCTAssertEqual(e.status, 0, e.err)
        let shards = try FileManager.default.contentsOfDirectory(atPath: dir + "/latents").filter { $0.hasSuffix(".latent.h5") }
        XCTAssertEqual(shards.count, 3, "\(shards)")
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: f.ck + "/step-00000150/state.json"))) as! [String: Any]
        let hash = (state["hashes"] as! [String: String])["model.safetensors"]!
        let py = try TimbreBinary.python(["shards.py", "read", dir + "/latents/" + shards.sorted()[0]])
        XCTAssertEqual(py["vae_checkpoint"] as? String, hash)
        XCTAssertEqual(py["hop"] as? Int, 8)
        XCTAssertEqual((py["latent_std"] as? [Double])?.count, 4)
        XCTAssertEqual(py["fletcher32"] as? [String: Bool], ["latents": true, "frame_offsets": true], "latent shards carry checksums")
    }

    /// One training step dumped for an outside reference, readable by safetensors.numpy; with the
    /// adversarial stage, the discriminator's parameters and hinge-loss gradients too.
    func testDumpStepHoldsEverythingAReplayNeeds() throws {
        let f = try fixture(), dir = f.dir
        let d = try TimbreBinary.run(["debug", "dump-step", "--checkpoint", f.ck, "--data", f.corpus, "--out", dir + "/step.safetensors"])
        XCTAssertEqual(d.status, 0, d.err)
        let dump = try TimbreBinary.python(["dump_safetensors.py", dir + "/step.safetensors"]) as! [String: [String: Any]]
        XCTAssertEqual(dump["batch.x"]?["shape"] as? [Int], [4, 1, 8192])
        XCTAssertEqual(dump["batch.eps"]?["shape"] as? [Int], [4, 4, 1024])
        XCTAssertNotNil(dump["loss"]); XCTAssertNotNil(dump["loss.mrstft"]); XCTAssertNotNil(dump["loss.kl"])
        let params = dump.keys.filter { $0.hasPrefix("param.") }, grads = dump.keys.filter { $0.hasPrefix("grad.") }
        XCTAssertEqual(params.count, grads.count)
        XCTAssertTrue(params.contains("param.decoder.blocks.0.conv.weight_v"))
        XCTAssertTrue(grads.contains { abs((dump[$0]!["sum"] as? Double) ?? 0) > 0 }, "gradients are not all zero")

        let dumpRun = try TimbreBinary.run(["debug", "dump-step", "--checkpoint", try f.adversarialRun(), "--data", f.corpus, "--out", dir + "/adv-step.safetensors"])
        XCTAssertEqual(dumpRun.status, 0, dumpRun.err)
        let adump = try TimbreBinary.python(["dump_safetensors.py", dir + "/adv-step.safetensors"]) as! [String: [String: Any]]
        for k in ["loss.discriminator", "loss.adversarial", "loss.feature_matching", "disc.param.discriminators.0.convs.0.weight_v",
                  "disc.param.periods.1.convs.4.weight_v"] {
            XCTAssertNotNil(adump[k], k)
        }
        let dgrads = adump.keys.filter { $0.hasPrefix("disc.grad.") }
        XCTAssertEqual(dgrads.count, adump.keys.filter { $0.hasPrefix("disc.param.") }.count)
        XCTAssertTrue(dgrads.contains { abs((adump[$0]!["sum"] as? Double) ?? 0) > 0 }, "discriminator gradients are not all zero")
    }
}

/// Checks a report's links: every `src="…"` in the HTML exists beside it and decodes (WAV through
/// libsndfile, PNG through libpng).
enum ReportFiles {
    static func checkLinks(_ html: String, expectAudio: Int, expectImages: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let text = try String(contentsOfFile: html, encoding: .utf8)
        let base = (html as NSString).deletingLastPathComponent
        let links = text.components(separatedBy: "src=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
        let wavs = links.filter { $0.hasSuffix(".wav") }, pngs = links.filter { $0.hasSuffix(".png") }
        XCTAssertEqual(wavs.count, expectAudio, "audio links", file: file, line: line)
        XCTAssertEqual(pngs.count, expectImages, "image links", file: file, line: line)
        XCTAssertEqual(links.count, wavs.count + pngs.count, "only audio and images are linked: \(links)", file: file, line: line)
        for w in wavs {
            let a = try AudioFile.read(base + "/" + w)
            XCTAssertEqual(a.sampleRate, 44100, w, file: file, line: line)
            XCTAssertGreaterThan(a.samples.count, 0, w, file: file, line: line)
        }
        for p in pngs {
            let s = try PNGImage.size(base + "/" + p)
            XCTAssertGreaterThan(s.width, 10, p, file: file, line: line)
            XCTAssertEqual(s.height, 256, p, file: file, line: line)
        }
    }
}
