import Foundation
import XCTest
import TimbreAudio

/// A pitch-carrying VAE (docs/pitch.md) through `timbre`: training on the tiny corpus, the dumped
/// step's pitch channels and source (replayed by numpy), latent shards with D + 2r channels,
/// `vae reconstruct --pitch-shift`, and the errors a user meets.
final class PitchCLITests: XCTestCase {
    func testTinyPitchVAE() throws {
        let repo = VAECLITests.repo
        let dir = NSTemporaryDirectory() + "timbre-pitch-\(getpid())-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertEqual(try TimbreBinary.run(["corpus", "build", "--recipe", repo + "/Datasets/tiny.json", "--out", dir + "/corpus"]).status, 0)
        var recipe = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: repo + "/Recipes/vae-tiny.json"))) as! [String: Any]
        var model = recipe["model"] as! [String: Any], training = recipe["training"] as! [String: Any]
        // hop 256 (vae-tiny's 8 would put a YIN window every 4 samples), nearest upsampling
        model["multipliers"] = [1, 2, 2]; model["strides"] = [4, 8, 8]
        model["pitch"] = ["per_frame": 2]
        model["upsample"] = "nearest"
        training["steps"] = 20; training["checkpoint_every"] = 20
        recipe["model"] = model; recipe["training"] = training
        try JSONSerialization.data(withJSONObject: recipe).write(to: URL(fileURLWithPath: dir + "/pitch.json"))
        let t = try TimbreBinary.run(["train", "vae", "--recipe", dir + "/pitch.json", "--data", dir + "/corpus", "--out", dir + "/ck", "--quiet"])
        XCTAssertEqual(t.status, 0, t.err)
        let names = TimbreBinary.tensors(try TimbreBinary.runJSON(["inspect", dir + "/ck"]).json)
        for name in ["decoder.source.0.weight_v", "decoder.source.1.weight_v", "decoder.source.2.weight", "decoder.blocks.0.conv.weight_v"] {
            XCTAssertNotNil(names[name], "\(name) in \(names.keys.sorted())")
        }

        // the dumped step carries the pitch channels and the source; numpy renders the same source
        let d = try TimbreBinary.run(["debug", "dump-step", "--checkpoint", dir + "/ck", "--data", dir + "/corpus", "--out", dir + "/step.safetensors"])
        XCTAssertEqual(d.status, 0, d.err)
        let dump = try TimbreBinary.python(["dump_safetensors.py", dir + "/step.safetensors"]) as! [String: [String: Any]]
        XCTAssertEqual(dump["batch.pitch"]?["shape"] as? [Int], [4, 4, 32])
        XCTAssertEqual(dump["batch.source"]?["shape"] as? [Int], [4, 1, 8192])
        XCTAssertNotEqual(dump["grad.decoder.source.0.weight_v"]?["sum"] as? Double, 0)
        let replay = try TimbreBinary.python(["pitch_source_reference.py", dir + "/step.safetensors"]) as! [String: Double]
        XCTAssertGreaterThan(replay["harmonic_rms"]!, 0.01, "voiced crops")
        XCTAssertEqual(replay["residual_std"]!, 0.003, accuracy: 0.0003, "what is left is the σ = 0.003 noise: \(replay)")
        XCTAssertEqual(replay["residual_mean"]!, 0, accuracy: 1e-4)

        // latent shards hold D + 2r = 4 + 4 channels, statistics for all of them
        let e = try TimbreBinary.run(["vae", "encode", "--checkpoint", dir + "/ck", "--data", dir + "/corpus", "--out", dir + "/latents"])
        XCTAssertEqual(e.status, 0, e.err)
        let shard = try FileManager.default.contentsOfDirectory(atPath: dir + "/latents").filter { $0.hasSuffix(".latent.h5") }.sorted()[0]
        let py = try TimbreBinary.python(["shards.py", "read", dir + "/latents/" + shard])
        XCTAssertEqual((py["latent_std"] as? [Double])?.count, 8)

        // the MM-DiT trains on all 8 channels and generation decodes its pitch channels
        var dit = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: repo + "/Recipes/dit-tiny.json"))) as! [String: Any]
        var ditModel = dit["model"] as! [String: Any], ditTraining = dit["training"] as! [String: Any]
        ditModel["latent_dim"] = 8; ditTraining["steps"] = 20; ditTraining["checkpoint_every"] = 20
        dit["model"] = ditModel; dit["training"] = ditTraining
        try JSONSerialization.data(withJSONObject: dit).write(to: URL(fileURLWithPath: dir + "/dit.json"))
        let td = try TimbreBinary.run(["train", "dit", "--recipe", dir + "/dit.json", "--data", dir + "/latents", "--vae", dir + "/ck",
                                       "--out", dir + "/dit", "--quiet"])
        XCTAssertEqual(td.status, 0, td.err)

        // the benchmarks run a pitch recipe's model (its decoder needs the source) and, with
        // --data, the recipe's own training step through the task the train commands build
        let bv = try TimbreBinary.run(["bench", "vae", "--recipe", dir + "/pitch.json", "--data", dir + "/corpus", "--steps", "1",
                                       "--batch-size", "2", "--samples", "8192"])
        XCTAssertEqual(bv.status, 0, bv.out + bv.err)
        XCTAssertTrue(bv.out.contains(dir + "/pitch.json on " + dir + "/corpus"), bv.out)
        let bd = try TimbreBinary.run(["bench", "dit", "--recipe", dir + "/dit.json", "--data", dir + "/latents", "--steps", "1"])
        XCTAssertEqual(bd.status, 0, bd.out + bd.err)
        XCTAssertTrue(bd.out.contains(dir + "/dit.json on " + dir + "/latents"), bd.out)
        let gen = ["generate", "--checkpoint", dir + "/dit", "--vae", dir + "/ck", "--steps", "4", "--seed", "3",
                   "--script", "Hello.", "--description", "A low voice.", "--seconds", "1"]
        for out in ["g1.wav", "g2.wav"] {
            let g = try TimbreBinary.run(gen + ["--out", dir + "/" + out])
            XCTAssertEqual(g.status, 0, g.err)
        }
        let g1 = try AudioFile.read(dir + "/g1.wav"), g2 = try AudioFile.read(dir + "/g2.wav")
        XCTAssertEqual(g1.samples, g2.samples, "the seed fixes the latents and the source's noise")
        XCTAssertEqual(Double(g1.samples.count) / 44100, 1, accuracy: 1024.0 / 44100)
        XCTAssertFalse(g1.samples.contains { !$0.isFinite })

        // reconstruct with the pitch moved; the source's pitch channels move by 4 semitones
        let clip = dir + "/clip.wav"
        let tone = (0..<44100).map { i in Float(0.3 * sin(2 * Double.pi * 150 * Double(i) / 44100)) }
        try AudioFile.write(Audio(samples: tone, sampleRate: 44100), to: clip)
        for shift in ["--pitch-shift=4", "--pitch-shift=-4"] {
            let r = try TimbreBinary.run(["vae", "reconstruct", "--checkpoint", dir + "/ck", shift, clip, dir + "/out\(shift.suffix(2)).wav"])
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertEqual(try AudioFile.read(dir + "/out\(shift.suffix(2)).wav").samples.count, tone.count)
        }
        let bad = try TimbreBinary.run(["vae", "reconstruct", "--checkpoint", dir + "/ck", "--pitch-shift", "nan", clip, dir + "/x.wav"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("--pitch-shift"), bad.err)
        let zero = try TimbreBinary.run(["vae", "reconstruct", "--checkpoint", dir + "/ck", "--chunk", "0", clip, dir + "/x.wav"])
        XCTAssertNotEqual(zero.status, 0)
        XCTAssertTrue(zero.err.contains("--chunk"), zero.err)

        // a recipe whose per_frame does not divide the hop is refused, naming the key
        model["pitch"] = ["per_frame": 3]
        recipe["model"] = model
        try JSONSerialization.data(withJSONObject: recipe).write(to: URL(fileURLWithPath: dir + "/bad.json"))
        let b = try TimbreBinary.run(["train", "vae", "--recipe", dir + "/bad.json", "--data", dir + "/corpus", "--out", dir + "/bad"])
        XCTAssertNotEqual(b.status, 0)
        XCTAssertTrue(b.err.contains("pitch.per_frame"), b.err)
    }
}
