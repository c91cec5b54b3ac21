import Foundation
import XCTest

/// The VAE end to end through `timbre`: build the tiny corpus, overfit Recipes/vae-tiny.json on
/// four of its clips.
final class VAECLITests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func testTinyVAEOverfitsAFewClips() throws {
        let dir = NSTemporaryDirectory() + "timbre-vae-\(getpid())-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = try TimbreBinary.run(["corpus", "build", "--recipe", Self.repo + "/Datasets/tiny.json", "--out", dir + "/corpus"])
        XCTAssertEqual(c.status, 0, c.err)
        let t = try TimbreBinary.run(["train", "vae", "--recipe", Self.repo + "/Recipes/vae-tiny.json", "--data", dir + "/corpus",
                                      "--out", dir + "/ck", "--quiet"])
        XCTAssertEqual(t.status, 0, t.err)
        var mr: [Int: Double] = [:], evals: [[String: Double]] = []
        for line in try String(contentsOfFile: dir + "/ck/metrics.jsonl", encoding: .utf8).split(separator: "\n") {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            if let v = o["mrstft"] as? Double { mr[o["step"] as! Int] = v }
            if let e = o["eval"] as? [String: Double] { evals.append(e) }
        }
        XCTAssertEqual(mr.count, 150)
        let first = (1...5).map { mr[$0]! }.reduce(0, +) / 5, last = (146...150).map { mr[$0]! }.reduce(0, +) / 5
        XCTAssertGreaterThanOrEqual(first / last, 3, "MR-STFT loss \(first) → \(last)")
        XCTAssertEqual(evals.count, 3, "held-out metrics at each checkpoint")
        XCTAssertNotNil(evals.last?["si_sdr"])
        XCTAssertLessThan(evals.last!["mrstft"]!, evals.first!["mrstft"]!)
        XCTAssertLessThan(evals.last!["mel"]!, evals.first!["mel"]!, "held-out mel distance falls")
        let i = try TimbreBinary.run(["inspect", dir + "/ck"])
        XCTAssertTrue(i.out.contains("encoder.blocks.1.res.2.conv1.weight_v"), i.out)
        XCTAssertTrue(i.out.contains("decoder.conv_out.weight_g"), i.out)

        // reconstruct a 22.05 kHz file of another voice
        let wav = dir + "/in.wav"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["espeak-ng", "-v", "en-us+f3", "-w", wav, "Reconstruct this sentence, please."]
        try p.run(); p.waitUntilExit()
        let r = try TimbreBinary.run(["vae", "reconstruct", "--checkpoint", dir + "/ck", wav, dir + "/out.wav", "--chunk", "8"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("SI-SDR"), r.out)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/out.wav"))

        // encode the corpus into latent shards that name the VAE's weights
        let e = try TimbreBinary.run(["vae", "encode", "--checkpoint", dir + "/ck", "--data", dir + "/corpus", "--out", dir + "/latents"])
        XCTAssertEqual(e.status, 0, e.err)
        let shards = try FileManager.default.contentsOfDirectory(atPath: dir + "/latents").filter { $0.hasSuffix(".latent.h5") }
        XCTAssertEqual(shards.count, 3, "\(shards)")
        let info = try TimbreBinary.run(["inspect", dir + "/ck"])
        XCTAssertEqual(info.status, 0)
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/ck/step-00000150/state.json"))) as! [String: Any]
        let hash = (state["hashes"] as! [String: String])["model.safetensors"]!
        let py = try TimbreBinary.python(["shards.py", "read", dir + "/latents/" + shards.sorted()[0]])
        XCTAssertEqual(py["vae_checkpoint"] as? String, hash)
        XCTAssertEqual(py["hop"] as? Int, 8)
        XCTAssertEqual((py["latent_std"] as? [Double])?.count, 4)

        // one training step dumped for an outside reference, readable by safetensors.numpy
        let d = try TimbreBinary.run(["debug", "dump-step", "--checkpoint", dir + "/ck", "--data", dir + "/corpus", "--out", dir + "/step.safetensors"])
        XCTAssertEqual(d.status, 0, d.err)
        let dump = try TimbreBinary.python(["dump_safetensors.py", dir + "/step.safetensors"]) as! [String: [String: Any]]
        XCTAssertEqual(dump["batch.x"]?["shape"] as? [Int], [4, 1, 8192])
        XCTAssertEqual(dump["batch.eps"]?["shape"] as? [Int], [4, 4, 1024])
        XCTAssertNotNil(dump["loss"]); XCTAssertNotNil(dump["loss.mrstft"]); XCTAssertNotNil(dump["loss.kl"])
        let params = dump.keys.filter { $0.hasPrefix("param.") }, grads = dump.keys.filter { $0.hasPrefix("grad.") }
        XCTAssertEqual(params.count, grads.count)
        XCTAssertTrue(params.contains("param.decoder.blocks.0.conv.weight_v"))
        XCTAssertTrue(grads.contains { abs((dump[$0]!["sum"] as? Double) ?? 0) > 0 }, "gradients are not all zero")
    }
}
