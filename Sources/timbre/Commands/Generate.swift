import ArgumentParser
import Foundation
import TimbreAudio
import TimbreDiT
import TimbreEval
import TimbreVAE

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate speech: voice design, cloning (--reference) or tuning (--source).",
        discussion: """
            Design: --script and --description. Cloning: add --reference WAV (another recording of \
            the voice). Tuning: --source WAV (its transcript as --script, the requested change as \
            --description); --t-start T starts from the source noised to T (SDEdit) instead of \
            pure noise. Duration: --seconds, else the source's length (tuning), else the script's \
            bytes at the training corpus's speaking rate. Guidance: v = v∅ + w_text·(v_text − v∅) \
            + w_ref·(v_full − v_text) (2 model passes per step without a reference, 3 with). The \
            same --seed gives the same audio. Output: 44.1 kHz WAV decoded by --vae.
            """)

    @Option(help: "MM-DiT checkpoint (or training directory).") var checkpoint: String
    @Option(help: "The VAE its latents came from.") var vae: String
    @Option(help: "What to say.") var script: String
    @Option(help: "How to say it (voice, pace, room…).") var description = ""
    @Option(help: "Reference recording of the voice to clone.") var reference: String?
    @Option(help: "Source recording to tune.") var source: String?
    @Option(help: "Duration in seconds (at most 600).") var seconds: Double?
    @Option(help: "ODE steps (1…1000).") var steps = 32
    @Option(help: "euler or heun.") var solver = "euler"
    @Option(help: "Sway coefficient (0 = uniform time grid).") var sway = -1.0
    @Option(help: "Text guidance weight.") var cfgText = 3.0
    @Option(help: "Reference guidance weight.") var cfgRef = 2.0
    @Option(help: "SDEdit start time for tuning (0 = from noise).") var tStart = 0.0
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Output WAV.") var out: String

    static let maxSeconds = 600.0, maxTextBytes = 16384

    func validate() throws {
        guard SamplerOptions.Solver(rawValue: solver) != nil else { throw ValidationError("--solver must be euler or heun, got '\(solver)'") }
        guard (0..<1).contains(tStart) else { throw ValidationError("--t-start must be in [0, 1), got \(tStart)") }
        if tStart > 0 && source == nil { throw ValidationError("--t-start needs --source") }
        guard (1...1000).contains(steps) else { throw ValidationError("--steps must be in 1…1000 ODE steps, got \(steps)") }
        if let seconds, !(seconds > 0 && seconds <= Self.maxSeconds) {
            throw ValidationError("--seconds must be a duration in (0, \(Int(Self.maxSeconds))] seconds, got \(seconds)")
        }
        for (name, w) in [("--cfg-text", cfgText), ("--cfg-ref", cfgRef)] where !(w.isFinite && abs(w) <= 100) {
            throw ValidationError("\(name) must be a finite guidance weight within ±100, got \(w)")
        }
        guard sway.isFinite && abs(sway) <= 10 else { throw ValidationError("--sway must be a finite coefficient within ±10, got \(sway)") }
        guard !script.isEmpty else { throw ValidationError("--script must not be empty") }
        for (name, text) in [("--script", script), ("--description", description)] where text.utf8.count > Self.maxTextBytes {
            throw ValidationError("\(name) is \(text.utf8.count) bytes; at most \(Self.maxTextBytes)")
        }
        guard ["wav", "flac"].contains((out as NSString).pathExtension.lowercased()) else {
            throw ValidationError("--out \(out) must end in .wav or .flac")
        }
    }

    mutating func run() throws {
        let sv = SamplerOptions.Solver(rawValue: solver)!
        let t0 = Date()
        let g = try SpeechGenerator(checkpoint: checkpoint, vae: vae)
        func latents(_ file: String, _ what: String) throws -> [Float] {
            try g.latents(try InputAudio.read(file, minSamples: g.hop, purpose: what).samples)
        }
        var cond = Conditions(script: script, description: description)
        if let reference { cond.reference = try latents(reference, "a reference (one latent frame)") }
        if let source {
            let s = try latents(source, "a source (one latent frame)")
            if reference == nil { cond.reference = s }  // tuning: the source is also the reference (docs/design.md §3.3)
            cond.source = s
        }
        let frames = seconds != nil ? g.frames(seconds: seconds, script: script) : cond.source.map { $0.count / g.D } ?? g.frames(seconds: nil, script: script)
        let planned = Double(frames * g.hop) / Double(Audio.modelRate)
        guard planned <= Self.maxSeconds else {
            throw InputError(String(format: "this would generate %.0f s of audio (%@); at most %.0f s: pass --seconds, or a shorter script or source",
                                         planned, seconds == nil && source == nil ? "the script at the training corpus's speaking rate" : "the source's length", Self.maxSeconds))
        }
        var o = SamplerOptions()
        o.steps = steps; o.solver = sv; o.sway = sway; o.cfgText = cfgText; o.cfgRef = cfgRef; o.tStart = tStart; o.seed = seed
        let bar = TerminalProgress("generating \(out)")
        let y = g.generate(cond, frames: frames, options: o) { bar.update($0, $1, unit: "ODE steps") }
        bar.finish()
        try AudioFile.write(Audio(samples: y, sampleRate: Audio.modelRate), to: out)
        let secs = Double(y.count) / Double(Audio.modelRate), took = Date().timeIntervalSince(t0)
        print(String(format: "%@: %.2f s of audio, %d %@ steps × %d passes, in %.1f s (real-time factor %.2f)", out, secs, steps, solver,
                     DiTSampler.passes(cond), took, took / max(secs, 1e-9)))
    }
}
