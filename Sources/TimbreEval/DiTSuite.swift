import Foundation
import TimbreAudio
import TimbreData
import TimbreDiT
import TimbreMetrics

/// The MM-DiT suite (docs/design.md §6): cloning identity against baselines, and whether descriptions steer
/// measurable attributes.
public struct DiTSuite {
    /// What a contrast measures on each generated clip.
    public enum Attribute: Sendable {
        case medianF0, speakingRate, rt60

        public var label: String {
            switch self {
            case .medianF0: "median F0 (Hz)"
            case .speakingRate: "speaking rate (bytes per active second)"
            case .rt60: "RT60 estimate (s)"
            }
        }
    }

    /// A contrast of two descriptions and the attribute that should differ.
    public struct Contrast: Sendable {
        public var name: String, measures: Attribute
        public var attribute: String { measures.label }
        public var a: String, b: String
        /// True when the attribute should be larger for `a`.
        public var aLarger: Bool
        /// Tuning: both sides tune the first held-out clip (its latents as source and reference,
        /// its transcript as script, SDEdit from `tuningStart` as the samples suite's tunings), so
        /// the description has to move a voice the clip already fixes.
        public var tunes = false
    }

    public static let contrasts: [Contrast] = [
        Contrast(name: "pitch", measures: .medianF0,
                 a: "A high-pitched woman in a quiet studio, speaking at a normal pace.",
                 b: "A deep man in a quiet studio, speaking at a normal pace.", aLarger: true),
        Contrast(name: "pace", measures: .speakingRate,
                 a: "A medium-pitched man in a quiet studio, speaking slowly.",
                 b: "A medium-pitched man in a quiet studio, speaking quickly.", aLarger: false),
        Contrast(name: "room", measures: .rt60,
                 a: "A medium-pitched woman, speaking at a normal pace in a large echoey hall.",
                 b: "A medium-pitched woman, speaking at a normal pace in a clean, dry recording.", aLarger: true),
        Contrast(name: "tuned-pitch", measures: .medianF0,
                 a: "A high-pitched voice in a quiet studio, speaking at a normal pace.",
                 b: "A deep voice in a quiet studio, speaking at a normal pace.", aLarger: true, tunes: true),
    ]
    public static let script = "The quick brown fox jumps over the lazy dog, and then it runs back home."
    /// The SDEdit start of the tuning contrast, and of the samples suite's tunings by default.
    public static let tuningStart = 0.3

    public struct CloneRow: Sendable {
        public var speaker: String, reference: String, target: String
        public var clone: Double, sameSpeaker: Double, differentSpeaker: Double, vaeRoundTrip: Double
        public var audio: [Float], referenceAudio: [Float]
    }

    public struct AdherenceRow: Sendable {
        public var contrast: Contrast
        public var a: [Double], b: [Double]
        /// Fraction of seeds whose pair is ordered as requested.
        public var ordered: Double
        public var exampleA: [Float], exampleB: [Float]
    }

    let g: SpeechGenerator, enc: SpeakerEncoder, split: CorpusSplit, recipe: EvalRecipe

    public init(generator: SpeechGenerator, encoder: SpeakerEncoder, data: String, recipe: EvalRecipe) throws {
        g = generator; enc = encoder; self.recipe = recipe
        split = try CorpusSplit(dir: data, split: recipe.splitName)
    }

    func audio(_ i: Int) throws -> [Float] { try split.head(i, seconds: recipe.maxSeconds) }

    var options: SamplerOptions { recipe.samplerOptions }

    /// Cloning: for speakers with two clips of different utterances, the second one's script and
    /// description with the first as reference; similarity of the clone to the reference next to
    /// the real second clip (same speaker), a clip of another speaker, and the reference's VAE round trip.
    public func cloning(progress: (String) -> Void) throws -> [CloneRow] {
        var bySpeaker: [String: [Int]] = [:]
        for i in 0..<split.count { bySpeaker[split.meta(i).speaker, default: []].append(i) }
        let speakers = bySpeaker.keys.sorted().filter { s in Set(bySpeaker[s]!.map { split.meta($0).variant }).count >= 2 }
        guard speakers.count >= 2 else { throw EvalError.invalid(split.dir, "cloning needs 2 speakers with 2 utterances each in split '\(split.split)'") }
        var rows: [CloneRow] = []
        for (k, s) in spreadIndices(recipe.clonePairs, over: speakers.count).map({ speakers[$0] }).enumerated() {
            let ids = bySpeaker[s]!
            let a = ids[0], b = ids.first { split.meta($0).variant != split.meta(a).variant }!
            let other = bySpeaker[speakers[(speakers.firstIndex(of: s)! + 1) % speakers.count]]![0]
            let ra = try audio(a), rb = try audio(b), rc = try audio(other)
            var o = options
            o.seed = UInt64(k)
            let mb = split.meta(b)
            let gen = g.generate(Conditions(script: mb.text, description: mb.description, reference: try g.latents(ra)),
                                 frames: g.frames(seconds: Double(rb.count) / Double(Audio.modelRate), script: mb.text), options: o)
            let ea = try enc.embed(ra, rate: Audio.modelRate)
            let round = g.audio(try g.latents(ra))
            rows.append(CloneRow(speaker: s, reference: split.meta(a).utterance_id, target: mb.utterance_id,
                                 clone: SpeakerEncoder.similarity(try enc.embed(gen, rate: Audio.modelRate), ea),
                                 sameSpeaker: SpeakerEncoder.similarity(try enc.embed(rb, rate: Audio.modelRate), ea),
                                 differentSpeaker: SpeakerEncoder.similarity(try enc.embed(rc, rate: Audio.modelRate), ea),
                                 vaeRoundTrip: SpeakerEncoder.similarity(try enc.embed(round, rate: Audio.modelRate), ea), audio: gen, referenceAudio: ra))
            progress("  cloning \(k + 1)/\(min(recipe.clonePairs, speakers.count))")
        }
        return rows
    }

    /// The held-out flow-matching loss under one arrangement of the conditions.
    public struct ConditioningRow: Sendable {
        public var name: String, loss: Double
    }

    /// How much the model relies on its text: the flow-matching loss (docs/design.md §3.1) of held-out clips
    /// at t = 0.25, 0.5, 0.75 with fixed noise, given their own script and description, another
    /// clip's, or none. A model that ignores a segment scores the same with it swapped.
    public func conditioningUse(progress: (String) -> Void) throws -> [ConditioningRow] {
        let ids = spreadIndices(recipe.clipCount, over: split.count)
        guard ids.count >= 2 else { throw EvalError.invalid(split.dir, "conditioning use needs 2 clips in split '\(split.split)'") }
        let p = g.model.config.p
        let latents = try ids.map { i -> [Float] in
            let z = try g.latents(try audio(i))
            return Array(z.prefix(z.count / (g.D * p) * g.D * p))
        }
        let arrangements: [(String, (Int, Int) -> Conditions)] = [
            ("own script and description", { a, _ in Conditions(script: split.meta(a).text, description: split.meta(a).description) }),
            ("another clip's description", { a, b in Conditions(script: split.meta(a).text, description: split.meta(b).description) }),
            ("no description", { a, _ in Conditions(script: split.meta(a).text, description: "") }),
            ("another clip's script", { a, b in Conditions(script: split.meta(b).text, description: split.meta(a).description) }),
            ("no script", { a, _ in Conditions(script: "", description: split.meta(a).description) }),
            ("neither", { _, _ in Conditions(script: "", description: "") }),
        ]
        var sums = [Double](repeating: 0, count: arrangements.count), n = 0
        for (k, i) in ids.enumerated() where !latents[k].isEmpty {
            let other = ids[(k + ids.count / 2) % ids.count]
            for (ti, t) in [0.25, 0.5, 0.75].enumerated() {
                for (a, arr) in arrangements.enumerated() {
                    sums[a] += DiTSampler.flowLoss(g.model, latents[k], arr.1(i, other), t: t, seed: UInt64(k * 3 + ti))
                }
                n += 1
            }
        }
        progress("  conditioning use: \(ids.count) clips × 3 times × \(arrangements.count) arrangements")
        return arrangements.indices.map { ConditioningRow(name: arrangements[$0].0, loss: sums[$0] / Double(max(1, n))) }
    }

    /// Each contrast over `seeds` seeds, the same script and seed for both sides.
    public func adherence(progress: (String) -> Void) throws -> [AdherenceRow] {
        guard split.count > 0 else { throw EvalError.invalid(split.dir, "the tuning contrast needs a clip in split '\(split.split)'") }
        let tuned = try g.latents(try audio(0)), tunedScript = split.meta(0).text
        return try Self.contrasts.map { c in
            var a: [Double] = [], b: [Double] = [], ordered = 0.0, exA: [Float] = [], exB: [Float] = []
            func conditions(_ description: String) -> Conditions {
                c.tunes ? Conditions(script: tunedScript, description: description, reference: tuned, source: tuned)
                        : Conditions(script: Self.script, description: description)
            }
            let frames = c.tunes ? tuned.count / g.D : g.frames(seconds: nil, script: Self.script)
            for seed in 0..<recipe.seedCount {
                var o = options
                o.seed = UInt64(1000 + seed)
                if c.tunes { o.tStart = Self.tuningStart }
                let ya = g.generate(conditions(c.a), frames: frames, options: o)
                let yb = g.generate(conditions(c.b), frames: frames, options: o)
                let (ma, mb) = (try measure(c, ya), try measure(c, yb))
                if seed == 0 { exA = ya; exB = yb }
                guard let ma, let mb else { continue }
                a.append(ma); b.append(mb)
                if ma != mb && (ma > mb) == c.aLarger { ordered += 1 }
            }
            progress("  \(c.name): \(a.count) seed pairs measured")
            return AdherenceRow(contrast: c, a: a, b: b, ordered: a.isEmpty ? .nan : ordered / Double(a.count), exampleA: exA, exampleB: exB)
        }
    }

    func measure(_ c: Contrast, _ y: [Float]) throws -> Double? {
        let p = try ClipProsody(y, rate: Audio.modelRate)
        switch c.measures {
        case .medianF0: return p.medianF0
        case .speakingRate: return p.speakingRate(scriptBytes: Self.script.utf8.count)
        case .rt60: return p.rt60
        }
    }
}
