import Foundation
import TimbreAudio
import TimbreDiT
import TimbreMetrics
import TimbreMPI
import TimbreCheckpoint

/// The suites of `timbre eval` run end to end: score, assemble the report (tables, headline,
/// examples, curves) and write it to `out`. `log` receives the progress lines.
public struct EvalRun {
    public var recipe: EvalRecipe, recipePath: String
    /// The corpus the clips come from, and the report folder.
    public var data: String, out: String
    public var speakerEncoder: String
    public var log: (String) -> Void

    public init(recipe: EvalRecipe, recipePath: String, data: String, out: String, speakerEncoder: String, log: @escaping (String) -> Void) {
        self.recipe = recipe; self.recipePath = recipePath; self.data = data; self.out = out; self.speakerEncoder = speakerEncoder; self.log = log
    }

    /// The vae suite: `vae` (or every checkpoint of its training directory) and `baseline` on the
    /// recipe's held-out clips, shared between `ranks`; rank 0 writes the report.
    public func vae(_ vae: String, baseline: String?, eachCheckpoint: Bool, ranks: Ranks) throws {
        let r = recipe
        let t0 = Date()
        let say = { (line: String) in if ranks.isRoot { log(line) } }
        var encoder: SpeakerEncoder? = nil
        if FileManager.default.fileExists(atPath: SpeakerEncoder.locate(speakerEncoder)) { encoder = try SpeakerEncoder(weights: speakerEncoder) } else {
            say("note: no speaker-encoder weights at \(speakerEncoder) (Recipes/setup.sh fetches them); speaker similarity left out")
        }
        let suite = try VAESuite(recipe: r, data: data, speakers: encoder)
        let originals = try suite.originals()
        var targets: [String] = [vae]
        if eachCheckpoint {
            targets = Checkpoints.stepDirectories(vae).reversed().compactMap { (try? Checkpoints.validate($0.path)) != nil ? $0.path : nil }
            guard !targets.isEmpty else { throw EvalError.invalid(vae, "--each-checkpoint: no valid checkpoint in this training directory") }
        }
        say("eval vae: \(originals.count) clips of ≤ \(r.maxSeconds) s from \(data) (\(r.splitName)), \(targets.count) checkpoint(s)"
              + (ranks.isDistributed ? " on \(ranks.size) ranks" : ""))
        if ranks.isRoot { try FileManager.default.createDirectory(atPath: out + "/audio", withIntermediateDirectories: true) }
        let nAudio = min(r.audioClips, originals.count)
        var kept: [String: [[Float]]] = [:]
        var systems: [SystemScore] = []
        for (i, ck) in targets.enumerated() {
            let isMain = i == targets.count - 1
            var rec = [[Float]](repeating: [], count: nAudio)
            let s = try suite.run(checkpoint: ck, originals: originals, ranks: ranks, keeping: isMain ? nAudio : 0, progress: { say($0) }) { k, y in rec[k] = y }
            if isMain { kept["main"] = rec }
            systems.append(s)
        }
        let main = systems.count - 1
        if let baseline {
            var rec = [[Float]](repeating: [], count: nAudio)
            var s = try suite.run(checkpoint: baseline, originals: originals, ranks: ranks, keeping: nAudio, progress: { say($0) }) { k, y in rec[k] = y }
            s.name = "baseline: " + s.name
            kept["baseline"] = rec
            systems.append(s)
        }
        if r.withAnchors { systems += try suite.anchors(originals, ranks: ranks) }
        guard ranks.isRoot else { return }  // rank 0 writes the report

        let m = systems[main]
        var report = Report(title: "VAE evaluation — \(m.name)", setup: [
            ("checkpoint", m.checkpoint ?? vae), ("step", m.step.map(String.init) ?? "?"),
            ("data", "\(data) (split \(r.splitName))"),
            ("clips", "\(originals.count), first \(r.maxSeconds) s of each, \(Set(originals.map(\.meta.speaker)).count) speakers"),
            ("recipe", recipePath), ("written", ISO8601DateFormatter().string(from: Date())),
        ], systems: systems, main: main)
        report.notes = [
            "Reconstructions use z = the posterior mean, decoded in chunks with overlap (timbre vae reconstruct).",
            "The anchors are the originals band-limited by a round trip through 16 and 8 kHz: a codec scoring near them is roughly that good.",
            "SI-SDR needs phase-accurate output; a VAE trained with magnitude losses only typically scores far below 0 dB while sounding close.",
        ]
        for k in 0..<nAudio {
            let o = originals[k]
            var scale: Float? = nil  // every version shares the original's spectrogram scale
            func version(_ label: String, _ tag: String, _ y: [Float], _ metrics: [String: Double]) throws -> (label: String, wav: String, png: String, metrics: [String: Double]) {
                let base = "audio/\(k)-\(tag)"
                try AudioFile.write(Audio(samples: y, sampleRate: Audio.modelRate), to: "\(out)/\(base).wav")
                let top = try Spectrogram.write(y, to: "\(out)/\(base).png", reference: scale)
                if scale == nil { scale = top }
                return (label, base + ".wav", base + ".png", metrics)
            }
            var versions = [try version("original", "original", o.audio, [:])]
            versions.append(try version("reconstruction (\(m.name))", "reconstruction", kept["main"]![k], m.clips[k].metrics))
            if let b = kept["baseline"] { versions.append(try version(systems[main + 1].name, "baseline", b[k], systems[main + 1].clips[k].metrics)) }
            report.examples.append((o.meta.utterance_id, o.meta.speaker, o.meta.text, versions))
        }
        if let path = m.checkpoint { report.curves = trainingCurves(((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("metrics.jsonl")) }
        let o = m.overall
        report.extra["headline"] = String(format: "%@ on %d held-out clips: mel distance %.3f, STOI %.3f, MR-STFT %.3f", m.name, originals.count,
                                          o["mel"] ?? .nan, o["stoi"] ?? .nan, o["mrstft"] ?? .nan)
            + (o["speaker_sim"].map { String(format: ", speaker similarity %.3f", $0) } ?? "")
        try report.write(to: out)
        say(String(format: "%@: SI-SDR %.2f dB, mel %.3f, STFT %.3f, MR-STFT %.3f, STOI %.3f, ESTOI %.3f (%.0f s)", m.name,
                     o["si_sdr"] ?? .nan, o["mel"] ?? .nan, o["stft"] ?? .nan, o["mrstft"] ?? .nan, o["stoi"] ?? .nan, o["estoi"] ?? .nan,
                     Date().timeIntervalSince(t0)))
        say("report: \(out)/report.html")
    }

    /// The dit suite: cloning similarity against baselines, description contrasts, conditioning use.
    public func dit(checkpoint: String, vae: String) throws {
        let r = recipe
        let t0 = Date()
        let g = try SpeechGenerator(checkpoint: checkpoint, vae: vae)
        let suite = try DiTSuite(generator: g, encoder: try SpeakerEncoder(weights: speakerEncoder), data: data, recipe: r)
        log("eval dit: \(checkpoint) with \(vae) on \(data) (\(r.splitName))")
        let clones = try suite.cloning { log($0) }
        let adherence = try suite.adherence { log($0) }
        let use = try suite.conditioningUse { log($0) }
        try FileManager.default.createDirectory(atPath: out + "/audio", withIntermediateDirectories: true)
        func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }
        func median(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.sorted()[v.count / 2] }
        let f = Report.fmt
        let rows: [(String, Double)] = [("clone (generated)", mean(clones.map(\.clone))), ("real, same speaker (baseline)", mean(clones.map(\.sameSpeaker))),
                                        ("real, different speaker (baseline)", mean(clones.map(\.differentSpeaker))),
                                        ("VAE round trip of the reference (ceiling)", mean(clones.map(\.vaeRoundTrip)))]
        let (md, html) = Report.table(["similarity to the reference (GE2E cosine)", "mean"], rows.map { [$0.0, f($0.1)] })
        var (amd, ahtml) = Report.table(["contrast", "attribute", "median for A", "median for B", "seed pairs ordered as asked"],
                                        adherence.map { [$0.contrast.name, $0.contrast.attribute, f(median($0.a)), f(median($0.b)), "\(f($0.ordered)) of \($0.a.count)"] },
                                        leftColumns: 2)
        ahtml += "<p class=\"small\">A and B: " + adherence.map { "\($0.contrast.name): A = “\($0.contrast.a)”, B = “\($0.contrast.b)”" }.joined(separator: "; ") + ". Script: “\(DiTSuite.script)”; "
            + "tuned-pitch tunes the first held-out clip instead (its transcript, its latents as source and reference, SDEdit from t = \(DiTSuite.tuningStart)).</p>"
        let full = use[0].loss
        var (umd, uhtml) = Report.table(["conditions given", "flow-matching loss", "change"],
                                        use.map { [$0.name, String(format: "%.4f", $0.loss), String(format: "%+.1f %%", 100 * ($0.loss / full - 1))] })
        let useNote = "Held-out clips (first \(r.maxSeconds) s, \(r.clipCount) at most), t = 0.25, 0.5, 0.75 with fixed noise, no reference. A model that uses a segment does worse without it or with another clip's; one that ignores it scores the same."
        umd += "\n" + useNote + "\n"
        uhtml += "<p class=\"small\">" + useNote + "</p>"
        func rise(_ k: Int) -> Double { 100 * (use[k].loss / full - 1) }
        var report = Report(title: "MM-DiT evaluation — \(checkpoint)", setup: [
            ("checkpoint", checkpoint), ("VAE", vae), ("data", "\(data) (split \(r.splitName))"),
            ("sampler", samplerLine),
            ("written", ISO8601DateFormatter().string(from: Date())),
        ], systems: [], main: 0)
        report.sections = [("Cloning: speaker similarity", md, html), ("Description adherence (\(r.seedCount) seeds)", amd, ahtml),
                           ("Conditioning use: held-out loss with the text swapped or removed", umd, uhtml)]
        report.extra = ["headline": String(format: "clone similarity %.3f (real same speaker %.3f, different %.3f); ", rows[0].1, rows[1].1, rows[2].1)
                            + adherence.map {
                                $0.a.isEmpty ? "\($0.contrast.name) not measurable (no seed gave both clips a value)"
                                    : "\($0.contrast.name) ordered as asked in \(f($0.ordered)) of \($0.a.count) seeds"
                            }.joined(separator: ", ")
                            + String(format: "; held-out loss %+.1f %% with another clip's description, %+.1f %% with another clip's script", rise(1), rise(3)),
                        "conditioning_use": Dictionary(uniqueKeysWithValues: use.map { ($0.name, $0.loss) }),
                        "cloning": Dictionary(uniqueKeysWithValues: rows.map { ($0.0, $0.1) }),
                        "adherence": Dictionary(uniqueKeysWithValues: adherence.map { ($0.contrast.name, ["median_a": median($0.a), "median_b": median($0.b), "ordered": $0.ordered, "pairs": Double($0.a.count)]) })]
        func example(_ tag: String, _ y: [Float]) throws -> ReportClip { try writeClip(tag, tag, y, in: out) }
        for (k, c) in clones.prefix(r.audioClips).enumerated() {
            report.examples.append(("clone \(k)", c.speaker, "reference \(c.reference) → script of \(c.target); similarity \(f(c.clone))",
                                    [try example("clone-\(k)-reference", c.referenceAudio), try example("clone-\(k)-generated", c.audio)]))
        }
        for a in adherence {
            report.examples.append((a.contrast.name, "seed 1000", "A: \(a.contrast.a) — B: \(a.contrast.b)",
                                    [try example("\(a.contrast.name)-A", a.exampleA), try example("\(a.contrast.name)-B", a.exampleB)]))
        }
        if let (path, _) = try? Checkpoints.resolve(checkpoint) {
            report.curves = trainingCurves(((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("metrics.jsonl"))
        }
        try report.write(to: out)
        log(String(format: "clone similarity %.3f (same speaker %.3f, different %.3f, VAE round trip %.3f); %.0f s", rows[0].1, rows[1].1, rows[2].1, rows[3].1, Date().timeIntervalSince(t0)))
        log("report: \(out)/report.html")
    }

    /// The speakers suite: same- and different-speaker similarity of the GE2E encoder and its EER.
    public func speakers() throws {
        let r = recipe
        let t0 = Date()
        let enc = try SpeakerEncoder(weights: speakerEncoder)
        log("eval speakers: up to \(r.clipsPerSpeaker) clean clips per real speaker of \(data) (\(r.splitName))")
        let res = try SpeakerSuite.run(data: data, split: r.splitName, clipsPerSpeaker: r.clipsPerSpeaker, maxSeconds: r.maxSeconds,
                                       encoder: enc) { log($0) }
        func stats(_ v: [Double]) -> (Double, Double) {
            let m = v.reduce(0, +) / Double(v.count)
            return (m, (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count)).squareRoot())
        }
        let (sm, ss) = stats(res.same), (dm, ds) = stats(res.different)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var report = Report(title: "Speaker verification — GE2E encoder on \((data as NSString).lastPathComponent)", setup: [
            ("data", "\(data) (split \(r.splitName))"), ("speakers", "\(res.speakers) real speakers, \(res.clips) clean clips (first \(r.maxSeconds) s)"),
            ("encoder", speakerEncoder), ("written", ISO8601DateFormatter().string(from: Date())),
        ], systems: [], main: 0)
        let (tmd, thtml) = Report.table(["trials", "count", "mean cosine", "std"], [
            ["same speaker", "\(res.same.count)", Report.fmt(sm), Report.fmt(ss)],
            ["different speakers", "\(res.different.count)", Report.fmt(dm), Report.fmt(ds)]])
        let md = tmd + "\nEqual error rate **\(String(format: "%.1f", 100 * res.eer)) %** at cosine \(Report.fmt(res.threshold))."
        let html = thtml + "\n<p>Equal error rate <b>\(String(format: "%.1f", 100 * res.eer)) %</b> at cosine \(Report.fmt(res.threshold)).</p>\n"
            + report.histogram(title: "cosine similarity of trial pairs", [("same speaker", res.same), ("different speakers", res.different)])
        report.sections = [("Same- and different-speaker similarity", md, html)]
        report.extra = ["headline": String(format: "EER %.1f %% over %d real speakers", 100 * res.eer, res.speakers), "eer": res.eer, "threshold": res.threshold, "speakers": res.speakers, "clips": res.clips,
                        "same_mean": sm, "same_std": ss, "different_mean": dm, "different_std": ds,
                        "same_trials": res.same.count, "different_trials": res.different.count]
        report.notes = ["Clean, non-synthetic clips only (no added rooms, noise, tempo or pitch changes), so the EER measures the encoder, not the augmentation."]
        try report.write(to: out)
        log(String(format: "%d speakers, %d clips: same %.3f ± %.3f, different %.3f ± %.3f, EER %.1f %% (%.0f s)", res.speakers, res.clips,
                     sm, ss, dm, ds, 100 * res.eer, Date().timeIntervalSince(t0)))
        log("report: \(out)/report.html")
    }

    /// The samples suite: the recipe's prompts generated for listening.
    public func samples(checkpoint: String, vae: String) throws {
        let r = recipe
        let t0 = Date()
        let g = try SpeechGenerator(checkpoint: checkpoint, vae: vae)
        let suite = try SamplesSuite(generator: g, data: data, recipe: r)
        log("samples: \(r.prompts?.count ?? 0) prompts with \(checkpoint) and \(vae)")
        let samples = try suite.run { log($0) }
        try FileManager.default.createDirectory(atPath: out + "/audio", withIntermediateDirectories: true)
        var report = Report(title: "Samples — \(checkpoint)", setup: [
            ("checkpoint", checkpoint), ("VAE", vae), ("references and sources", "\(data) (split \(r.splitName), clean clips, first \(r.maxSeconds) s)"),
            ("sampler", samplerLine),
            ("written", ISO8601DateFormatter().string(from: Date())),
        ], systems: [], main: 0)
        func version(_ label: String, _ tag: String, _ y: [Float]) throws -> ReportClip { try writeClip(label, tag, y, in: out) }
        for (k, s) in samples.enumerated() {
            let p = s.prompt, tag = "\(k)-\(p.task)"
            var versions: [ReportClip] = []
            if let c = s.clip { versions.append(try version(p.task == "tune" ? "source (\(c.utterance_id))" : "reference (\(c.utterance_id))", tag + "-input", s.clipAudio)) }
            versions.append(try version("generated, seed \(p.seed ?? UInt64(k))", tag, s.audio))
            let what = p.task == "tune" ? "change: “\(p.description ?? "")”" : "description: “\(p.description ?? "")”"
            report.examples.append(("\(k + 1). \(p.task)", s.clip?.speaker ?? "designed voice", "script: “\(s.script)” — \(what)", versions))
        }
        let counts = ["design", "clone", "tune"].map { t in "\(samples.filter { $0.prompt.task == t }.count) \(t)" }.joined(separator: ", ")
        report.extra = ["headline": "\(samples.count) samples (\(counts)), \(String(format: "%.1f", samples.map(\.seconds).reduce(0, +))) s of audio",
                        "samples": samples.enumerated().map { k, s in ["task": s.prompt.task, "script": s.script, "description": s.prompt.description ?? "",
                                                                       "clip": s.clip?.utterance_id ?? "", "wav": "audio/\(k)-\(s.prompt.task).wav", "seconds": s.seconds] as [String: Any] }]
        report.notes = ["Clone prompts use a held-out clip as the reference; tune prompts start from a held-out clip noised to t_start (SDEdit) with its own transcript and the requested change as the description."]
        try report.write(to: out)
        log(String(format: "%d samples in %.0f s", samples.count, Date().timeIntervalSince(t0)))
        log("report: \(out)/report.html")
    }

    /// The dit and samples suites' sampler settings (`EvalRecipe.samplerOptions`), for the report.
    var samplerLine: String {
        let o = recipe.samplerOptions
        return "\(o.steps) Euler steps, guidance text \(o.cfgText), reference \(o.cfgRef)"
    }

    public typealias ReportClip = (label: String, wav: String, png: String, metrics: [String: Double])

    /// Writes `out/audio/TAG.wav` and its spectrogram `TAG.png`; the report's entry for them.
    func writeClip(_ label: String, _ tag: String, _ y: [Float], in out: String) throws -> ReportClip {
        try AudioFile.write(Audio(samples: y, sampleRate: Audio.modelRate), to: "\(out)/audio/\(tag).wav")
        try Spectrogram.write(y, to: "\(out)/audio/\(tag).png")
        return (label, "audio/\(tag).wav", "audio/\(tag).png", [:])
    }
}
