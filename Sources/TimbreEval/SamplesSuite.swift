import Foundation
import TimbreAudio
import TimbreData
import TimbreDiT

/// One listening prompt of the `samples` suite (`Recipes/samples.json`).
public struct SamplePrompt: Codable, Sendable {
    /// "design" (script + description), "clone" (script + description, a held-out clip of some
    /// speaker as the reference) or "tune" (a held-out clip as the source, its own transcript as
    /// the script, `description` the requested change).
    public var task: String
    public var script: String?
    public var description: String?
    /// Duration (default: from the script at the corpus's speaking rate, or the source's length).
    public var seconds: Double?
    /// Tuning: SDEdit start time (default `DiTSuite.tuningStart`, 0.3).
    public var t_start: Double?
    public var seed: UInt64?
}

/// Demo generations for people to listen to (no scores): design, cloning and tuning prompts from
/// the recipe, references and sources drawn from clean clips of the split, spread over its speakers.
public struct SamplesSuite {
    public struct Sample: Sendable {
        public var prompt: SamplePrompt
        /// The script actually spoken and the reference/source clip used (utterance id, speaker).
        public var script: String
        public var clip: ClipMeta?
        public var clipAudio: [Float]
        public var audio: [Float]
        public var seconds: Double
    }

    let g: SpeechGenerator, split: CorpusSplit, recipe: EvalRecipe

    public init(generator: SpeechGenerator, data: String, recipe: EvalRecipe) throws {
        g = generator; self.recipe = recipe
        split = try CorpusSplit(dir: data, split: recipe.splitName)
    }

    /// Checks a recipe's prompts without loading any model.
    public static func validate(_ prompts: [SamplePrompt], in path: String) throws {
        guard !prompts.isEmpty else { throw EvalError.invalid(path, "the samples suite needs a non-empty \"prompts\" list") }
        for (k, p) in prompts.enumerated() {
            switch p.task {
            case "design", "clone":
                guard let s = p.script, !s.isEmpty else { throw EvalError.invalid(path, "prompts[\(k)] (\(p.task)) needs a \"script\"") }
            case "tune":
                guard let d = p.description, !d.isEmpty else { throw EvalError.invalid(path, "prompts[\(k)] (tune) needs a \"description\" (the change)") }
            default:
                throw EvalError.invalid(path, "prompts[\(k)].task '\(p.task)': expected \"design\", \"clone\" or \"tune\"")
            }
            if let t = p.t_start, !(0..<1).contains(t) { throw EvalError.invalid(path, "prompts[\(k)].t_start \(t): expected 0 ≤ t < 1") }
        }
    }

    /// Clean clips of the split, one per speaker, in speaker order.
    func cleanClipPerSpeaker() -> [Int] {
        var first: [String: Int] = [:]
        for i in 0..<split.count where first[split.meta(i).speaker] == nil {
            if let a = try? JSONDecoder().decode(ClipAttributes.self, from: Data(split.meta(i).attributes.utf8)), a.isClean { first[split.meta(i).speaker] = i }
        }
        return first.keys.sorted().map { first[$0]! }
    }

    public func run(progress: (String) -> Void) throws -> [Sample] {
        let prompts = recipe.prompts ?? []
        let clips = cleanClipPerSpeaker()
        let needing = prompts.filter { $0.task != "design" }.count
        guard needing == 0 || !clips.isEmpty else {
            throw EvalError.invalid(split.dir, "clone and tune prompts need clean clips in split '\(split.split)'; it has none")
        }
        let picks = spreadIndices(needing, over: clips.count)
        var out: [Sample] = [], used = 0
        for (k, p) in prompts.enumerated() {
            var o = recipe.samplerOptions
            o.seed = p.seed ?? UInt64(k)
            var meta: ClipMeta? = nil, clipAudio: [Float] = [], script = p.script ?? ""
            var cond = Conditions(script: script, description: p.description ?? "")
            var frames = g.frames(seconds: p.seconds, script: script)
            if p.task != "design" {
                let i = clips[picks[used % picks.count]]
                used += 1
                meta = split.meta(i)
                clipAudio = try split.head(i, seconds: recipe.maxSeconds)
                let z = try g.latents(clipAudio)
                cond.reference = z
                if p.task == "tune" {
                    script = p.script ?? meta!.text
                    cond.script = script
                    cond.source = z
                    o.tStart = p.t_start ?? DiTSuite.tuningStart
                    frames = p.seconds.map { g.frames(seconds: $0, script: script) } ?? z.count / g.D
                }
            }
            let t0 = Date()
            let y = g.generate(cond, frames: frames, options: o)
            let secs = Double(y.count) / Double(Audio.modelRate)
            progress(String(format: "  %@ %d/%d: %.1f s of audio in %.1f s", p.task, k + 1, prompts.count, secs, Date().timeIntervalSince(t0)))
            out.append(Sample(prompt: p, script: script, clip: meta, clipAudio: clipAudio, audio: y, seconds: secs))
        }
        return out
    }
}
