import ArgumentParser
import Foundation
import TimbreMPI
import TimbreAudio
import TimbreEval
import TimbreDiT
import TimbreMetrics
import TimbreTrain

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an evaluation suite and write metrics.json, report.md and report.html.",
        discussion: """
            Suites (the recipe's "suite"):
              vae       held-out clips through --vae: SI-SDR, mel, STFT and MR-STFT
                        distances, STOI, ESTOI (and speaker similarity) per clip,
                        per speaker and overall, next to band-limited anchors and
                        --baseline. Under mpirun -np N the ranks share the clips.
              speakers  clean clips of the corpus's real speakers through the GE2E
                        encoder: same/different-speaker similarity and the EER.
              dit       --checkpoint and --vae: clone similarity against same- and
                        different-speaker baselines; whether descriptions steer
                        pitch, pace and room over many seeds.
              samples   --checkpoint and --vae: the recipe's design, clone and tune
                        prompts, for listening (Recipes/samples.json).
            --each-checkpoint scores every valid checkpoint of a VAE training \
            directory. The report folder holds the WAVs and spectrogram PNGs it \
            links; open report.html in a browser.
            """)

    @Option(help: "Evaluation recipe (Recipes/eval-NAME.json).") var recipe: String
    @Option(help: "VAE checkpoint (or training directory: its newest valid checkpoint, or a released folder).") var vae: String?
    @Option(help: "MM-DiT checkpoint (the dit suite).") var checkpoint: String?
    @Option(help: "A second checkpoint to compare against, side by side.") var baseline: String?
    @Flag(help: "Score every valid checkpoint of the --vae training directory.") var eachCheckpoint = false
    @Option(help: "Corpus directory (audio shards).") var data: String
    @Option(help: "Report directory (created).") var out: String
    @Option(help: "Speaker-encoder weights (Recipes/setup.sh fetches them).") var speakerEncoder = SpeakerEncoder.defaultWeights

    mutating func run() throws {
        let r = try EvalRecipe.load(recipe)
        let ranks = Ranks.world
        if ranks.isDistributed && r.suite != "vae" {
            throw InputError("\(recipe): the '\(r.suite)' suite runs in one process; under mpirun only the 'vae' suite shares its clips between ranks")
        }
        if r.suite == "speakers" { return try runSpeakers(r) }
        if r.suite == "dit" { return try runDiT(r) }
        if r.suite == "samples" { return try runSamples(r) }
        guard let vae else { throw ValidationError("the '\(r.suite)' suite needs --vae CK") }
        let t0 = Date()
        let print = { (line: String) in if ranks.isRoot { Swift.print(line) } }
        var encoder: SpeakerEncoder? = nil
        if FileManager.default.fileExists(atPath: SpeakerEncoder.locate(speakerEncoder)) { encoder = try SpeakerEncoder(weights: speakerEncoder) } else {
            print("note: no speaker-encoder weights at \(speakerEncoder) (Recipes/setup.sh fetches them); speaker similarity left out")
        }
        let suite = try VAESuite(recipe: r, data: data, speakers: encoder)
        let originals = try suite.originals()
        var targets: [String] = [vae]
        if eachCheckpoint {
            targets = Checkpoints.stepDirectories(vae).reversed().compactMap { (try? Checkpoints.validate($0.path)) != nil ? $0.path : nil }
            guard !targets.isEmpty else { throw ValidationError("--each-checkpoint: no valid checkpoint in \(vae)") }
        }
        print("eval vae: \(originals.count) clips of ≤ \(r.maxSeconds) s from \(data) (\(r.splitName)), \(targets.count) checkpoint(s)"
              + (ranks.isDistributed ? " on \(ranks.size) ranks" : ""))
        if ranks.isRoot { try FileManager.default.createDirectory(atPath: out + "/audio", withIntermediateDirectories: true) }
        let nAudio = min(r.audioClips, originals.count)
        var kept: [String: [[Float]]] = [:]
        var systems: [SystemScore] = []
        for (i, ck) in targets.enumerated() {
            let isMain = i == targets.count - 1
            var rec = [[Float]](repeating: [], count: nAudio)
            let s = try suite.run(checkpoint: ck, originals: originals, ranks: ranks, keeping: isMain ? nAudio : 0, progress: { print($0) }) { k, y in rec[k] = y }
            if isMain { kept["main"] = rec }
            systems.append(s)
        }
        let main = systems.count - 1
        if let baseline {
            var rec = [[Float]](repeating: [], count: nAudio)
            var s = try suite.run(checkpoint: baseline, originals: originals, ranks: ranks, keeping: nAudio, progress: { print($0) }) { k, y in rec[k] = y }
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
            ("recipe", recipe), ("written", ISO8601DateFormatter().string(from: Date())),
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
        print(String(format: "%@: SI-SDR %.2f dB, mel %.3f, STFT %.3f, MR-STFT %.3f, STOI %.3f, ESTOI %.3f (%.0f s)", m.name,
                     o["si_sdr"] ?? .nan, o["mel"] ?? .nan, o["stft"] ?? .nan, o["mrstft"] ?? .nan, o["stoi"] ?? .nan, o["estoi"] ?? .nan,
                     Date().timeIntervalSince(t0)))
        print("report: \(out)/report.html")
    }

    func runDiT(_ r: EvalRecipe) throws {
        guard let checkpoint, let vae else { throw ValidationError("the 'dit' suite needs --checkpoint DIT and --vae VAE") }
        let t0 = Date()
        let g = try SpeechGenerator(checkpoint: checkpoint, vae: vae)
        let suite = try DiTSuite(generator: g, encoder: try SpeakerEncoder(weights: speakerEncoder), data: data, recipe: r)
        print("eval dit: \(checkpoint) with \(vae) on \(data) (\(r.splitName))")
        let clones = try suite.cloning { print($0) }
        let adherence = try suite.adherence { print($0) }
        let use = try suite.conditioningUse { print($0) }
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
            ("sampler", "\(r.steps ?? 32) Euler steps, guidance text \(r.cfg_text ?? 3), reference \(r.cfg_ref ?? 2)"),
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
        func example(_ tag: String, _ y: [Float]) throws -> ReportClip { try writeClip(tag, tag, y) }
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
        print(String(format: "clone similarity %.3f (same speaker %.3f, different %.3f, VAE round trip %.3f); %.0f s", rows[0].1, rows[1].1, rows[2].1, rows[3].1, Date().timeIntervalSince(t0)))
        print("report: \(out)/report.html")
    }

    typealias ReportClip = (label: String, wav: String, png: String, metrics: [String: Double])

    /// Writes `out/audio/TAG.wav` and its spectrogram `TAG.png`; the report's entry for them.
    func writeClip(_ label: String, _ tag: String, _ y: [Float]) throws -> ReportClip {
        try AudioFile.write(Audio(samples: y, sampleRate: Audio.modelRate), to: "\(out)/audio/\(tag).wav")
        try Spectrogram.write(y, to: "\(out)/audio/\(tag).png")
        return (label, "audio/\(tag).wav", "audio/\(tag).png", [:])
    }

    func runSpeakers(_ r: EvalRecipe) throws {
        let t0 = Date()
        let enc = try SpeakerEncoder(weights: speakerEncoder)
        print("eval speakers: up to \(r.clipsPerSpeaker) clean clips per real speaker of \(data) (\(r.splitName))")
        let res = try SpeakerSuite.run(data: data, split: r.splitName, clipsPerSpeaker: r.clipsPerSpeaker, maxSeconds: r.maxSeconds,
                                       encoder: enc) { print($0) }
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
        print(String(format: "%d speakers, %d clips: same %.3f ± %.3f, different %.3f ± %.3f, EER %.1f %% (%.0f s)", res.speakers, res.clips,
                     sm, ss, dm, ds, 100 * res.eer, Date().timeIntervalSince(t0)))
        print("report: \(out)/report.html")
    }

    func runSamples(_ r: EvalRecipe) throws {
        guard let checkpoint, let vae else { throw ValidationError("the 'samples' suite needs --checkpoint DIT and --vae VAE") }
        let t0 = Date()
        let g = try SpeechGenerator(checkpoint: checkpoint, vae: vae)
        let suite = try SamplesSuite(generator: g, data: data, recipe: r)
        print("samples: \(r.prompts?.count ?? 0) prompts with \(checkpoint) and \(vae)")
        let samples = try suite.run { print($0) }
        try FileManager.default.createDirectory(atPath: out + "/audio", withIntermediateDirectories: true)
        var report = Report(title: "Samples — \(checkpoint)", setup: [
            ("checkpoint", checkpoint), ("VAE", vae), ("references and sources", "\(data) (split \(r.splitName), clean clips, first \(r.maxSeconds) s)"),
            ("sampler", "\(r.steps ?? 32) Euler steps, guidance text \(r.cfg_text ?? 3), reference \(r.cfg_ref ?? 2)"),
            ("written", ISO8601DateFormatter().string(from: Date())),
        ], systems: [], main: 0)
        func version(_ label: String, _ tag: String, _ y: [Float]) throws -> ReportClip { try writeClip(label, tag, y) }
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
        print(String(format: "%d samples in %.0f s", samples.count, Date().timeIntervalSince(t0)))
        print("report: \(out)/report.html")
    }
}

struct ReportIndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report-index",
        abstract: "Write index.html and index.md over several report folders.",
        discussion: """
            Each folder is one written by timbre eval; the index shows its title and \
            headline numbers, links its report.html, and plays a samples report's \
            audio inline. Folders inside --out are linked relatively, so the whole \
            folder can be moved or served.
            """)

    @Option(help: "Folder for index.html and index.md (created).") var out: String
    @Option(help: "Page title.") var title = "Timbre reports"
    @Option(help: "A note shown prominently at the top (repeatable).") var note: [String] = []
    @Argument(help: "Report folders, in the order shown.") var reports: [String]

    func run() throws {
        try ReportIndex.write(to: out, title: title, notes: note, reports: reports)
        print("index: \(out)/index.html")
    }
}
