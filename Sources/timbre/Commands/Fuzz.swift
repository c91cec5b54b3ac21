import ArgumentParser
import Foundation
import TimbreAudio
import TimbreData
import TimbreFormats
import TimbreTrain
import TimbreVAE
import TimbreVAETraining

/// `timbre debug fuzz`: a seeded mutation loop over the parsers a user's files reach.
struct Fuzz: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Feed mutated files to Timbre's parsers; any crash, slow input or non-finite output is a bug.",
        discussion: """
            Targets: safetensors (header and tensors, as checkpoints are loaded), recipe (the strict \
            JSON reader and every recipe check, as `train vae` reads one), manifest (a corpus's \
            manifest.json), wav (libsndfile through Timbre's audio reader). Each input is a valid \
            file mutated 1–8 times (bit flips, interesting bytes and integers, insertions, \
            deletions, duplicated ranges, truncation, JSON tokens such as 1e999, -1, NaN, {}). \
            Errors are the expected outcome; a crash ends the process (rerun with the printed \
            seed and --start to reproduce), an input slower than --limit-ms or a successful read \
            that yields non-finite values is counted and printed, and the exit status is 1 if \
            there were any.
            """)

    @Option(help: "Inputs per target.") var inputs = 25_000
    @Option(help: "Comma-separated targets: safetensors, recipe, manifest, wav.") var targets = "safetensors,recipe,manifest,wav"
    @Option(help: "Seed of the mutations.") var seed: UInt64 = 1
    @Option(help: "First input index (to replay one input of an earlier run).") var start = 0
    @Option(name: .customLong("limit-ms"), help: "An input slower than this counts as a hang.") var limitMs = 1000.0
    @OptionGroup var report: JSONReportOption

    /// `--json`: one row per target.
    struct TargetResult: Encodable {
        var target: String, inputs: Int, seconds: Double, accepted: Int, rejected: Int, slow: Int, slowest_ms: Double, non_finite: Int
    }

    func validate() throws {
        guard (1...100_000_000).contains(inputs) else { throw ValidationError("--inputs must be in 1…100000000, got \(inputs)") }
        guard start >= 0 else { throw ValidationError("--start must be ≥ 0, got \(start)") }
        guard limitMs > 0 && limitMs.isFinite else { throw ValidationError("--limit-ms must be > 0, got \(limitMs)") }
        for t in targets.split(separator: ",") where FuzzTarget(rawValue: String(t)) == nil {
            throw ValidationError("unknown target '\(t)' (targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
    }

    mutating func run() throws {
        let dir = NSTemporaryDirectory() + "timbre-fuzz-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var results: [TargetResult] = []
        for name in targets.split(separator: ",") {
            let r = try fuzz(FuzzTarget(rawValue: String(name))!, dir: dir)
            print(String(format: "%@: %d inputs in %.1f s: %d accepted, %d rejected with an error, 0 crashes, %d over %.0f ms (slowest %.1f ms), %d non-finite outputs",
                         r.target, r.inputs, r.seconds, r.accepted, r.rejected, r.slow, limitMs, r.slowest_ms, r.non_finite))
            results.append(r)
        }
        try report.write(["targets": results])
        if results.contains(where: { $0.slow + $0.non_finite > 0 }) { throw ExitCode(1) }
    }

    /// Feeds `inputs` mutations of the target's valid file, printing each slow input and each
    /// non-finite value read as good.
    func fuzz(_ target: FuzzTarget, dir: String) throws -> TargetResult {
        let seedInput = try target.seedInput()
        var r = TargetResult(target: target.rawValue, inputs: inputs, seconds: 0, accepted: 0, rejected: 0, slow: 0, slowest_ms: 0, non_finite: 0)
        let t0 = Date()
        for i in start..<(start + inputs) {
            var rng = FuzzRandom(seed: seed &* 0x9E3779B97F4A7C15 &+ UInt64(i))
            rng.mix(UInt64(FuzzTarget.allCases.firstIndex(of: target)!))
            let input = i == 0 ? seedInput : Mutator.mutate(seedInput, &rng)
            let s = Date()
            let outcome = target.feed(input, dir: dir)
            let ms = Date().timeIntervalSince(s) * 1000
            r.slowest_ms = max(r.slowest_ms, ms)
            switch outcome {
            case .accepted: r.accepted += 1
            case .rejected: r.rejected += 1
            case .nonFinite(let what):
                r.non_finite += 1
                print("\(target.rawValue) input \(i): non-finite output (\(what))")
            }
            if ms > limitMs { r.slow += 1; print("\(target.rawValue) input \(i): \(String(format: "%.0f", ms)) ms") }
        }
        r.seconds = Date().timeIntervalSince(t0)
        return r
    }
}

enum FuzzTarget: String, CaseIterable {
    case safetensors, recipe, manifest, wav

    enum Outcome { case accepted, rejected, nonFinite(String) }

    func seedInput() throws -> [UInt8] {
        switch self {
        case .safetensors:
            let a: [Float] = [1, -2, 3.5, 0, 0.25, 7], b: [Float16] = [1, 2, -3, 4]
            let entries = [SafeTensorsWriter.OwnedEntry(name: "encoder.conv.weight", dtype: .F32, shape: [2, 3], values: a),
                           SafeTensorsWriter.OwnedEntry(name: "decoder.bias", dtype: .F16, shape: [4], values: b)]
            var d = SafeTensorsWriter.header(entries.map { e in e.data.withUnsafeBytes { SafeTensorsWriter.Entry(name: e.name, dtype: e.dtype, shape: e.shape, bytes: $0) } }, metadata: ["format": "timbre", "step": "3"])
            for e in entries { d.append(e.data) }
            return [UInt8](d)
        case .recipe:
            return Array("""
                {
                  "model_type": "vae", "seed": 1,
                  "model": { "channels": 4, "multipliers": [1, 2], "strides": [2, 4], "latent_dim": 2, "weight_norm": true,
                             "pitch": { "amplitude": 1.0, "harmonics": 8 }, "upsample": "transposed" },
                  "losses": { "mrstft": 1.0, "mel": 0.5, "kl": 0.0001 },
                  "data": { "crop_samples": 4096, "eval_clips": 2 },
                  "training": { "steps": 10, "batch_size": 2, "optimizer": { "lr": 0.001, "betas": [0.8, 0.99], "weight_decay": 0.0 },
                                "schedule": { "kind": "cosine", "warmup_steps": 2, "min_lr_ratio": 0.1 }, "grad_clip": 1.0,
                                "ema": { "decay": 0.99 }, "checkpoint_every": 5, "keep_last": 2 }
                }
                """.utf8)
        case .manifest:
            return Array("""
                {"name": "fuzz", "format": "timbre.corpus", "recipe": "{\\"name\\": \\"fuzz\\"}",
                 "created": "2026-12-02T00:00:00Z", "build_seconds": 1.5,
                 "shards": [{"file": "train-00000.audio.h5", "split": "train", "clips": 3, "seconds": 4.5},
                            {"file": "test-00000.audio.h5", "split": "test", "clips": 1, "seconds": 1.0}],
                 "held_out_speakers": ["s1"], "utterance_fraction_held_out": 0.05,
                 "skipped": {"silent": 1}, "skipped_examples": ["x: silent"],
                 "sources": {"espeak": {"clips": 4, "seconds": 5.5, "licence": "GPL", "synthetic": true}}}
                """.utf8)
        case .wav:
            var samples = [Int16]()
            for i in 0..<512 { samples.append(Int16(10000 * sin(Double(i) * 0.05))) }
            var d = Array("RIFF".utf8) + le32(36 + 2 * samples.count) + Array("WAVEfmt ".utf8) + le32(16)
            d += le16(1) + le16(1) + le32(16000) + le32(32000) + le16(2) + le16(16)
            d += Array("data".utf8) + le32(2 * samples.count)
            for s in samples { d += le16(Int(UInt16(bitPattern: s))) }
            return d
        }
    }

    func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    func le16(_ v: Int) -> [UInt8] { (0..<2).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    func feed(_ input: [UInt8], dir: String) -> Outcome {
        do {
            switch self {
            case .safetensors:
                let f = try SafeTensorsFile.parse(Data(input), path: "fuzz.safetensors")
                for t in f.tensors where [.F32, .F16, .BF16, .F64].contains(t.dtype) {
                    let x = try f.floats(t.name)
                    if x.withUnsafeBufferPointer({ NonFinite.scan($0, limit: 1).count }) > 0 { return .nonFinite("tensor \(t.name)") }
                }
            case .recipe:
                let path = dir + "/recipe.json"
                try Data(input).write(to: URL(fileURLWithPath: path))
                _ = try Recipe<VAEConfig>.load(path, expecting: "vae")
            case .manifest:
                try Data(input).write(to: URL(fileURLWithPath: dir + "/manifest.json"))
                _ = try CorpusManifest.load(dir)
            case .wav:
                let path = dir + "/input.wav"
                try Data(input).write(to: URL(fileURLWithPath: path))
                let a = try AudioFile.read(path)
                if NonFinite.first(a.samples) != nil { return .nonFinite("samples") }
            }
            return .accepted
        } catch {
            return .rejected
        }
    }
}

/// SplitMix64: the mutation stream of one input.
struct FuzzRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func mix(_ v: UInt64) { state ^= v &* 0xBF58476D1CE4E5B9; _ = next() }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
}

enum Mutator {
    static let bytes: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF, 0x20, 0x0A, UInt8(ascii: "\""), UInt8(ascii: "{"), UInt8(ascii: "}"),
                                 UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: ","), UInt8(ascii: ":"), UInt8(ascii: "-"),
                                 UInt8(ascii: "0"), UInt8(ascii: "9"), UInt8(ascii: "e"), UInt8(ascii: "."), UInt8(ascii: "\\")]
    static let tokens = ["1e999", "-1", "0", "NaN", "Infinity", "1.5", "1e30", "9223372036854775808", "-0", "{}", "[]", "null",
                         "true", "\"\"", "\"../../etc/passwd\"", "\"\\u0000\"", "\"\\ud800\"", "[[[[[[[[", "}}}}", "\"steps\": 1,",
                         "\"a\": 1, \"a\": 2,", "\u{FEFF}", "\u{00E9}"]
    static let ints: [UInt64] = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
                                 0x7FFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFF, 100_000_000, 100_000_001]

    static func mutate(_ seed: [UInt8], _ r: inout FuzzRandom) -> [UInt8] {
        var x = seed
        for _ in 0..<(1 + r.below(1 + r.below(8))) {  // mostly one or two: most inputs stay near-valid
            let n = x.count
            switch r.below(9) {
            case 0 where n > 0:  // flip a bit
                let i = r.below(n); x[i] ^= UInt8(1 << r.below(8))
            case 1 where n > 0:  // an interesting byte
                x[r.below(n)] = bytes[r.below(bytes.count)]
            case 2:  // insert random bytes
                let at = r.below(n + 1)
                x.insert(contentsOf: (0..<(1 + r.below(16))).map { _ in UInt8(truncatingIfNeeded: r.next()) }, at: at)
            case 3 where n > 0:  // delete a range
                let a = r.below(n), len = 1 + r.below(min(64, n - a))
                x.removeSubrange(a..<(a + len))
            case 4 where n > 1:  // duplicate a range
                let a = r.below(n), len = 1 + r.below(min(128, n - a))
                x.insert(contentsOf: Array(x[a..<(a + len)]), at: r.below(n + 1))
            case 5 where n > 0:  // truncate
                x.removeSubrange(r.below(n)..<n)
            case 6:  // a JSON token
                let t = Array(tokens[r.below(tokens.count)].utf8), at = r.below(n + 1)
                if r.below(2) == 0 || n == 0 { x.insert(contentsOf: t, at: at) } else {
                    let len = min(n - min(at, n), 1 + r.below(8))
                    x.replaceSubrange(min(at, n)..<(min(at, n) + len), with: t)
                }
            case 7 where n >= 8:  // an interesting little-endian integer (lengths, offsets, sizes)
                let v = ints[r.below(ints.count)], w = [2, 4, 8][r.below(3)], at = r.below(n - w + 1)
                for k in 0..<w { x[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
            default:  // a digit changed (numbers in JSON and sizes in text)
                for _ in 0..<8 where n > 0 {
                    let i = r.below(n)
                    if x[i] >= 0x30 && x[i] <= 0x39 { x[i] = UInt8(0x30 + r.below(10)); break }
                }
            }
        }
        return x
    }
}
