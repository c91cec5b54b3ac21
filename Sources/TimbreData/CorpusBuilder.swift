import Foundation
import TimbreAudio
import TimbreDSP
import TimbreFormats
import TimbreTensor

/// Attribute values as stored in `/attributes` (one JSON object per clip). The project's table
/// of keys and allowed values is in Datasets/README.md.
public struct ClipAttributes: Codable, Sendable {
    public var gender: String
    public var gender_source: String
    public var accent: String
    public var pitch: String
    public var median_f0: Double
    public var speed: String
    public var speaking_rate: Double
    public var environment: String
    public var tempo: Double
    public var pitch_shift_cents: Double
    public var source: String
    public var licence: String
    public var synthetic: Bool
    public var native_rate: Int
    public var native_channels: Int
    public var gloss_en: String?

    /// The clip as recorded: no added room, noise, tempo or pitch change.
    public var isClean: Bool { environment == "clean" && tempo == 1 && pitch_shift_cents == 0 }

    public static func bucketPitch(_ f0: Double, gender: String) -> String {
        guard f0 > 0 else { return "unknown" }
        let (lo, hi) = gender == "female" ? (175.0, 235.0) : gender == "male" ? (100.0, 140.0) : (130.0, 200.0)
        return f0 < lo ? "low" : f0 > hi ? "high" : "medium"
    }
    public static func bucketSpeed(_ bytesPerSecond: Double) -> String {
        bytesPerSecond < 12.5 ? "slow" : bytesPerSecond > 17.5 ? "fast" : "normal"
    }
}

/// Builds a corpus from a recipe: enumerates clean utterances from each source, renders them
/// (2 workers), resamples to 44.1 kHz, normalises loudness to −23 LUFS, measures F0 and speaking
/// rate, renders environment and pace/pitch variants with sox, writes descriptions, assigns the
/// held-out split, and writes shards and `manifest.json` into a temporary directory renamed to
/// `out` at the end (a failed build leaves nothing half-written).
public final class CorpusBuilder {
    public let recipe: CorpusRecipe
    public let recipePath: String
    public let cache: String
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    var seed: UInt64 { recipe.seed ?? 1 }

    /// Loudness target of every clean clip (nil: keep the source's level).
    public var loudnessTarget: Double? = -23
    /// Jobs given directly (corpus import) instead of the recipe's sources.
    var givenJobs: [ClipJob]?
    /// Genders estimated per speaker (for sources without labels), so all of a speaker's clips agree.
    var speakerGenders: [String: String] = [:]

    /// For each speaker without a gender label: the median of the median F0s of up to 5 of its
    /// clips (> 165 Hz → female).
    func estimateGenders(_ jobs: [ClipJob], tmp: String) {
        var bySpeaker: [String: [ClipJob]] = [:]
        for j in jobs where j.gender == nil { bySpeaker[j.speaker, default: []].append(j) }
        let speakers = bySpeaker.keys.sorted()
        let box = GenderBox()
        Parallel.items(speakers.count) { i, _ in
            var f0s: [Double] = []
            for j in bySpeaker[speakers[i]]!.prefix(5) {
                guard let path = try? j.produce(tmp), let a = try? AudioFile.read(path),
                      let y = try? Resampler.resample(a.samples, from: a.sampleRate, to: 16000) else { continue }
                let f = YIN.median(YIN.track(y))
                if f > 0 { f0s.append(f) }
            }
            let m = YIN.median(f0s)
            box.set(speakers[i], m <= 0 ? "unknown" : m > 165 ? "female" : "male")
        }
        speakerGenders = box.values
    }
    var recipeJSON: String?

    public init(recipePath: String, cache: String) throws {
        self.recipePath = recipePath
        recipe = try CorpusRecipe.load(recipePath)
        self.cache = cache
    }

    /// An import: the user's rows instead of recipe sources.
    public init(importRows rows: [CorpusImport.Row], audioDir: String, name: String, heldOut: HeldOutSpec?, loudness: Double?,
                options: [String: String]) {
        recipePath = audioDir
        recipe = CorpusRecipe(name: name, seed: 1, sources: [], environments: nil, pace_pitch: nil, held_out: heldOut,
                              shard_seconds: nil, max_clip_seconds: 60)
        cache = ""
        loudnessTarget = loudness
        givenJobs = CorpusImport.jobs(rows, audioDir: audioDir)
        let d = try? JSONSerialization.data(withJSONObject: options, options: [.sortedKeys])
        recipeJSON = d.map { String(decoding: $0, as: UTF8.self) }
    }

    func jobs() throws -> [ClipJob] {
        if let givenJobs { return givenJobs }
        var all: [ClipJob] = []
        for s in recipe.sources {
            switch s.kind {
            case "espeak": all += try Sources.espeak(s, seed: seed)
            case "mbrola":
                var m = s
                m.kind = "espeak"
                all += try Sources.espeak(m, seed: seed).map { j in
                    var j = j
                    j.speaker = j.speaker.replacingOccurrences(of: "espeak-mb-", with: "mbrola-")
                    j.id = j.id.replacingOccurrences(of: "espeak-mb-", with: "mbrola-")
                    j.source = "mbrola"; j.licence = "mbrola voice licence (non-commercial use restrictions), synthetic"
                    return j
                }
            case "flite": all += try Sources.flite(s, seed: seed)
            case "festival": all += try Sources.festival(s, seed: seed)
            case "asterisk": all += try Sources.asterisk(s, cache: cache)
            case "fillets": all += try Sources.fillets(s, cache: cache)
            case "rhvoice": all += try Sources.rhvoice(s, seed: seed)
            case "pico": all += try Sources.pico(s, seed: seed)
            case "uqm": all += try Sources.uqm(s, cache: cache)
            default:
                throw DataError.invalid(recipePath, "source '\(s.kind)' is not supported by this version of the builder")
            }
        }
        return all
    }

    struct Rendered { var samples: [Float]; var meta: ClipMeta; var seconds: Double; var synthetic: Bool; var source: String; var licence: String }
    /// A clip skipped: its id, the reason (the manifest's key: a category where there is one) and
    /// what the log says (the whole error).
    enum Outcome {
        case clips([Rendered]); case skipped(String, String, detail: String?)
        static func skipped(_ id: String, _ why: String) -> Outcome { .skipped(id, why, detail: nil) }
    }

    static func sox(_ input: [Float], _ chain: [String], tmp: String, tag: String) throws -> [Float] {
        let a = "\(tmp)/\(tag)-in.wav", b = "\(tmp)/\(tag)-out.wav"
        try AudioFile.write(Audio(samples: input, sampleRate: Audio.modelRate), to: a, format: .wavFloat)
        defer { unlink(a); unlink(b) }
        try runTool("sox", [a, "-b", "32", "-e", "floating-point", b] + chain)
        let r = try AudioFile.read(b)
        return r.sampleRate == Audio.modelRate ? r.samples : try Resampler.resample(r.samples, from: r.sampleRate, to: Audio.modelRate)
    }

    func render(_ job: ClipJob, index: Int, tmp: String) -> Outcome {
        do {
            let path = try job.produce(tmp)
            let src = try AudioFile.read(path)
            if path.hasPrefix(tmp) { unlink(path) }
            guard src.samples.count > src.sampleRate / 10 else { return .skipped(job.id, "shorter than 0.1 s") }
            let peak = src.samples.reduce(Float(0)) { max($0, abs($1)) }
            guard peak > 1e-3 else { return .skipped(job.id, "silent") }
            var clean = try Resampler.resample(src.samples, from: src.sampleRate, to: Audio.modelRate)
            if let target = loudnessTarget { Loudness.normalise(&clean, sampleRate: Audio.modelRate, target: target) }
            let maxS = recipe.max_clip_seconds ?? 20
            guard Double(clean.count) / Double(Audio.modelRate) <= maxS else { return .skipped(job.id, "longer than \(maxS) s") }

            // Variants: environments and pace/pitch, chosen deterministically per utterance.
            var versions: [(Environment, Double, Double, [Float])] = [(.clean, 1, 0, clean)]
            var r = RandomStream(seed: seed, fnv1a(job.id), 0xA7)
            if let env = recipe.environments, r.uniformDouble() < (env.fraction ?? 0.3) {
                var kinds = env.kinds.compactMap(Environment.init(rawValue:)).filter { $0 != .clean }
                for _ in 0..<min(env.per_utterance ?? 1, kinds.count) {
                    let e = kinds.remove(at: r.int(below: kinds.count))
                    var y: [Float]
                    if e == .noisy {
                        y = clean
                        var nr = RandomStream(seed: seed, fnv1a(job.id), 0x401)
                        var b = 0.0
                        for i in y.indices { b = 0.995 * b + 0.1 * (nr.uniformDouble() - 0.5); y[i] += Float(0.12 * b) }
                    } else {
                        y = try Self.sox(clean, e.soxChain, tmp: tmp, tag: "\(job.id)-\(e.rawValue)")
                    }
                    versions.append((e, 1, 0, y))
                }
            }
            if let pp = recipe.pace_pitch, r.uniformDouble() < pp.fraction {
                if let tempos = pp.tempo, !tempos.isEmpty, r.uniformDouble() < 0.5 || (pp.pitch ?? []).isEmpty {
                    let t = tempos[r.int(below: tempos.count)]
                    versions.append((.clean, t, 0, try Self.sox(clean, ["tempo", "-s", String(t)], tmp: tmp, tag: "\(job.id)-tempo")))
                } else if let ps = pp.pitch, !ps.isEmpty {
                    let c = ps[r.int(below: ps.count)]
                    versions.append((.clean, 1, c, try Self.sox(clean, ["pitch", String(c)], tmp: tmp, tag: "\(job.id)-pitch")))
                }
            }

            var out: [Rendered] = []
            var speakerGender = job.gender ?? speakerGenders[job.speaker]
            var cleanF0 = 0.0, cleanRate = 0.0
            for (k, (env, tempo, cents, y)) in versions.enumerated() {
                // F0 and speaking rate describe the voice: measured on the clean version, and again
                // only for pace/pitch variants (a room or a channel does not change them, but noise
                // and reverb would bias the measurement).
                var f0 = cleanF0, rate = cleanRate
                if k == 0 || tempo != 1 || cents != 0 {
                    f0 = YIN.median(YIN.track(try Resampler.resample(y, from: Audio.modelRate, to: 16000)))
                    let active = ActiveSpeech.seconds(y, sampleRate: Audio.modelRate)
                    rate = active > 0 ? Double(job.text.utf8.count) / active : 0
                    if k == 0 { cleanF0 = f0; cleanRate = rate }
                }
                if speakerGender == nil && k == 0 { speakerGender = f0 <= 0 ? "unknown" : f0 > 165 ? "female" : "male" }
                let gender = speakerGender ?? "unknown"
                let attrs = ClipAttributes(gender: gender, gender_source: job.gender == nil ? "f0_estimate" : "label", accent: job.accent,
                                           pitch: ClipAttributes.bucketPitch(f0, gender: gender), median_f0: (f0 * 10).rounded() / 10,
                                           speed: ClipAttributes.bucketSpeed(rate), speaking_rate: (rate * 100).rounded() / 100,
                                           environment: env.rawValue, tempo: tempo, pitch_shift_cents: cents, source: job.source,
                                           licence: job.licence, synthetic: job.synthetic, native_rate: src.sampleRate,
                                           native_channels: src.sourceChannels, gloss_en: job.extra["gloss_en"])
                let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
                let suffix = k == 0 ? "" : env != .clean ? "+\(env.rawValue)" : tempo != 1 ? "+tempo\(tempo)" : "+pitch\(Int(cents))"
                var dr = RandomStream(seed: seed, fnv1a(job.id + suffix), 0xDE5C)
                let meta = ClipMeta(utterance_id: job.id + suffix, speaker: job.speaker, text: job.text,
                                    description: k == 0 ? job.extra["description"] ?? Descriptions.make(attrs, &dr) : Descriptions.make(attrs, &dr),
                                    language: job.language, variant: job.id,
                                    attributes: String(decoding: try enc.encode(attrs), as: UTF8.self))
                out.append(Rendered(samples: y, meta: meta, seconds: Double(y.count) / Double(Audio.modelRate), synthetic: job.synthetic,
                                    source: job.source, licence: job.licence))
            }
            return .clips(out)
        } catch let e as AudioError {
            if case .nonFinite = e { return .skipped(job.id, "non-finite samples", detail: "\(e)") }
            return .skipped(job.id, "\(e)")
        } catch {
            return .skipped(job.id, "\(error)")
        }
    }

    /// Builds the corpus into `out` (which must not exist unless `replace`).
    public func build(out: String, replace: Bool = false) throws -> CorpusManifest {
        let fm = FileManager.default
        if fm.fileExists(atPath: out) && !replace {
            throw DataError.io(out, "already exists (use --force to rebuild it)")
        }
        let t0 = Date()
        let all = try jobs()
        guard !all.isEmpty else { throw DataError.invalid(recipePath, "the recipe's sources produce no utterances") }
        log("corpus \(recipe.name): \(all.count) utterances from \(recipe.sources.count) sources")
        let work = out + ".tmp-\(getpid())"
        try? fm.removeItem(atPath: work)
        try fm.createDirectory(atPath: work + "/.scratch", withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: work) }
        estimateGenders(all, tmp: work + "/.scratch")

        // Held-out split: whole speakers, then a fraction of every other speaker's utterances.
        let speakers = Array(Set(all.map(\.speaker))).sorted()
        var order = speakers
        var r = RandomStream(seed: seed, 0x5917)
        r.shuffle(&order)
        let heldSpeakers = Set(order.prefix(min(recipe.held_out?.speakers ?? 0, max(0, speakers.count - 1))))
        let frac = recipe.held_out?.utterance_fraction ?? 0
        guard frac >= 0 && frac < 1 else {
            throw DataError.invalid(recipePath, "held_out.utterance_fraction must be in [0, 1) (a fraction of each speaker's utterances), got \(frac)")
        }
        func split(_ j: ClipJob) -> String {
            if heldSpeakers.contains(j.speaker) { return "test" }
            var u = RandomStream(seed: seed, fnv1a(j.id), 0x7E57)
            return u.uniformDouble() < frac ? "test" : "train"
        }

        var writers: [String: AudioShardWriter] = [:], shardIndex: [String: Int] = [:]
        var shards: [CorpusManifest.Shard] = []
        var skipped: [String: Int] = [:], skipExamples: [String] = []
        var sourceStats: [String: CorpusManifest.SourceStats] = [:]
        let shardSeconds = recipe.shard_seconds ?? 1800
        func flush(_ sp: String) throws {
            guard let w = writers[sp], w.clipCount > 0 else { return }
            let i = shardIndex[sp, default: 0]
            let name = String(format: "%@-%05d.audio.h5", sp, i)
            try w.write("\(work)/\(name)")
            shards.append(.init(file: name, split: sp, clips: w.clipCount, seconds: (w.seconds * 100).rounded() / 100))
            shardIndex[sp] = i + 1
            writers[sp] = AudioShardWriter()
        }
        let batch = 32
        var done = 0
        var lastLog = Date()
        for start in stride(from: 0, to: all.count, by: batch) {
            let chunk = Array(all[start..<min(all.count, start + batch)])
            var results = [Outcome?](repeating: nil, count: chunk.count)
            let box = ResultsBox(chunk.count)
            let scratch = work + "/.scratch"
            Parallel.items(chunk.count) { i, _ in box.set(i, self.render(chunk[i], index: start + i, tmp: scratch)) }
            results = box.values
            for (i, res) in results.enumerated() {
                switch res! {
                case .skipped(let id, let why, let detail):
                    let key = why.count > 60 ? String(why.prefix(60)) + "…" : why
                    skipped[key, default: 0] += 1
                    if skipExamples.count < 10 { skipExamples.append("\(id): \(detail ?? why)") }
                    log("warning: skipped \(id): \(detail ?? why)")
                case .clips(let clips):
                    let sp = split(chunk[i])
                    for c in clips {
                        let w = writers[sp] ?? AudioShardWriter()
                        writers[sp] = w
                        w.add(c.samples, c.meta)
                        var st = sourceStats[c.source] ?? .init(clips: 0, seconds: 0, licence: c.licence, synthetic: c.synthetic)
                        st.clips += 1; st.seconds += c.seconds
                        sourceStats[c.source] = st
                        if w.seconds >= shardSeconds { try flush(sp) }
                    }
                }
            }
            done += chunk.count
            if Date().timeIntervalSince(lastLog) > 5 || done == all.count {
                let el = Date().timeIntervalSince(t0)
                log(String(format: "  %d/%d utterances, %.0f s elapsed, ETA %.0f s", done, all.count, el, el / Double(done) * Double(all.count - done)))
                lastLog = Date()
            }
        }
        for sp in writers.keys.sorted() { try flush(sp) }
        try? fm.removeItem(atPath: work + "/.scratch")
        for k in sourceStats.keys { sourceStats[k]!.seconds = (sourceStats[k]!.seconds * 10).rounded() / 10 }
        let recipeText = try recipeJSON ?? String(decoding: try JSONSerialization.data(withJSONObject: try JSONSerialization.jsonObject(
            with: try Data(contentsOf: URL(fileURLWithPath: recipePath))), options: [.sortedKeys]), as: UTF8.self)
        let manifest = CorpusManifest(name: recipe.name, created: ISO8601DateFormatter().string(from: Date()),
                                      build_seconds: (Date().timeIntervalSince(t0) * 10).rounded() / 10, shards: shards,
                                      held_out_speakers: heldSpeakers.sorted(), utterance_fraction_held_out: frac,
                                      skipped: skipped, skipped_examples: skipExamples, sources: sourceStats,
                                      recipe: recipeText)
        let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileIO.writeAtomically(try enc.encode(manifest), to: "\(work)/manifest.json")
        if fm.fileExists(atPath: out) { try fm.removeItem(atPath: out) }
        try FileIO.rename(work, out)
        log("corpus written to \(out) in \(String(format: "%.1f", manifest.build_seconds)) s")
        return manifest
    }
}

final class GenderBox: @unchecked Sendable {
    var values: [String: String] = [:]
    let lock = NSLock()
    func set(_ k: String, _ v: String) { lock.lock(); values[k] = v; lock.unlock() }
}

final class ResultsBox: @unchecked Sendable {
    var values: [CorpusBuilder.Outcome?]
    let lock = NSLock()
    init(_ n: Int) { values = Array(repeating: nil, count: n) }
    func set(_ i: Int, _ v: CorpusBuilder.Outcome) { lock.lock(); values[i] = v; lock.unlock() }
}

/// Descriptions from attributes, several templates so the model does not learn one sentence.
public enum Descriptions {
    static func pick(_ a: [String], _ r: inout RandomStream) -> String { a[r.int(below: a.count)] }

    public static func make(_ a: ClipAttributes, _ r: inout RandomStream) -> String {
        let noun = a.gender == "female" ? pick(["woman", "female speaker", "female voice"], &r)
            : a.gender == "male" ? pick(["man", "male speaker", "male voice"], &r) : pick(["speaker", "voice"], &r)
        let pitch = ["low": pick(["low-pitched", "deep"], &r), "high": pick(["high-pitched", "bright"], &r),
                     "medium": pick(["medium-pitched", "mid-range"], &r)][a.pitch] ?? ""
        let pace = ["slow": pick(["slowly", "at a slow, deliberate pace"], &r), "fast": pick(["quickly", "at a brisk pace"], &r),
                    "normal": pick(["at a normal pace", "at an even pace"], &r)][a.speed] ?? "at a normal pace"
        let env = pick((Environment(rawValue: a.environment) ?? .clean).phrases, &r)
        let accent = a.accent
        let synth = a.synthetic ? pick([" The voice is clearly synthetic.", " A synthetic voice.", ""], &r) : ""
        var s: String
        switch r.int(below: 4) {
        case 0: s = "A \(pitch) \(noun) with \(article(accent)) \(accent) accent, speaking \(pace) \(env).\(synth)"
        case 1: s = "\(cap(accent)) \(noun), \(pitch.isEmpty ? "" : pitch + " voice, ")speaking \(pace); \(env.hasPrefix("recorded") ? env : "recorded " + env).\(synth)"
        case 2: s = "Speaking \(pace) \(env), \(article(pitch.isEmpty ? noun : pitch)) \(pitch) \(noun) with \(article(accent)) \(accent) accent.\(synth)"
        default: s = "\(cap(article(pitch.isEmpty ? accent : pitch))) \(pitch) \(accent) \(noun) \(env), speaking \(pace).\(synth)"
        }
        while s.contains("  ") { s = s.replacingOccurrences(of: "  ", with: " ") }  // an unknown pitch leaves no gap
        return s
    }
    static func article(_ w: String) -> String { "aeiouAEIOU".contains(w.first ?? "x") ? "an" : "a" }
    static func cap(_ s: String) -> String { s.prefix(1).uppercased() + s.dropFirst() }
}

/// `manifest.json` of a corpus directory.
public struct CorpusManifest: Codable, Sendable {
    public struct Shard: Codable, Sendable { public var file: String, split: String, clips: Int, seconds: Double }
    public struct SourceStats: Codable, Sendable { public var clips: Int, seconds: Double, licence: String, synthetic: Bool }
    public var format = "timbre.corpus"
    public var name: String
    public var created: String
    public var build_seconds: Double
    public var shards: [Shard]
    public var held_out_speakers: [String]
    public var utterance_fraction_held_out: Double
    public var skipped: [String: Int]
    public var skipped_examples: [String]
    public var sources: [String: SourceStats]
    /// The recipe as built (JSON text).
    public var recipe: String

    public static func load(_ dir: String) throws -> CorpusManifest {
        let p = "\(dir)/manifest.json"
        guard let d = FileManager.default.contents(atPath: p) else { throw DataError.io(dir, "no manifest.json: not a corpus directory (build one with `timbre corpus build`)") }
        let m: CorpusManifest
        do { m = try StrictJSON.decode(CorpusManifest.self, from: d, file: p, allowUnknownKeys: true) } catch { throw DataError.invalid(p, "unreadable manifest: \(error)") }
        for (i, s) in m.shards.enumerated() where ConfinedPath.resolve(s.file, under: dir) == nil {
            throw DataError.invalid(p, "shards[\(i)].file '\(s.file)' resolves outside the corpus folder \(dir); shards must lie inside it")
        }
        return m
    }
}
