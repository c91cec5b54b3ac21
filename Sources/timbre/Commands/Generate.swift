import ArgumentParser
import Foundation
import TimbreAudio
import TimbreDiT
import TimbreVAE

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate speech: voice design, cloning (--reference) or tuning (--source).",
        discussion: """
            Design: --script and --description. Cloning: add --reference WAV (another recording of
            the voice). Tuning: --source WAV (its transcript as --script, the requested change as
            --description); --t-start T starts from the source noised to T (SDEdit) instead of
            pure noise. Duration: --seconds, else the source's length (tuning), else the script's
            bytes at the training corpus's speaking rate. Guidance: v = v∅ + w_text·(v_text − v∅)
            + w_ref·(v_full − v_text) (2 model passes per step without a reference, 3 with). The
            same --seed gives the same audio. Output: 44.1 kHz WAV decoded by --vae.
            """)

    @Option(help: "MM-DiT checkpoint (or training directory).") var checkpoint: String
    @Option(help: "The VAE its latents came from.") var vae: String
    @Option(help: "What to say.") var script: String
    @Option(help: "How to say it (voice, pace, room…).") var description = ""
    @Option(help: "Reference recording of the voice to clone.") var reference: String?
    @Option(help: "Source recording to tune.") var source: String?
    @Option(help: "Duration in seconds.") var seconds: Double?
    @Option(help: "ODE steps.") var steps = 32
    @Option(help: "euler or heun.") var solver = "euler"
    @Option(help: "Sway coefficient (0 = uniform time grid).") var sway = -1.0
    @Option(help: "Text guidance weight.") var cfgText = 3.0
    @Option(help: "Reference guidance weight.") var cfgRef = 2.0
    @Option(help: "SDEdit start time for tuning (0 = from noise).") var tStart = 0.0
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Output WAV.") var out: String

    mutating func run() throws {
        guard let sv = SamplerOptions.Solver(rawValue: solver) else { throw ValidationError("--solver must be euler or heun, got '\(solver)'") }
        guard (0..<1).contains(tStart) else { throw ValidationError("--t-start must be in [0, 1), got \(tStart)") }
        if tStart > 0 && source == nil { throw ValidationError("--t-start needs --source") }
        let t0 = Date()
        let (model, path) = try DiTInference.load(checkpoint)
        let (vaeModel, _, _) = try VAEInference.load(vae)
        let D = model.config.latent_dim, hop = vaeModel.hop
        guard vaeModel.config.latent_dim == D else { throw ValidationError("\(vae) has \(vaeModel.config.latent_dim) latent channels, \(path) expects \(D)") }
        func latents(_ file: String) throws -> [Float] {
            let a = try Resampler.resample(try AudioFile.read(file), to: 44100)
            let z = VAEInference.encode(vaeModel, a.samples)  // [D, F]
            let F = z.count / D
            var out = [Float](repeating: 0, count: F * D)
            for f in 0..<F { for d in 0..<D { out[f * D + d] = (z[d * F + f] - model.latentMean.value[d]) / model.latentStd.value[d] } }
            return out
        }
        var cond = Conditions(script: script, description: description)
        if let reference { cond.reference = try latents(reference) }
        if let source {
            let s = try latents(source)
            if reference == nil { cond.reference = s }  // tuning: the source is also the reference (SPEC §3.3)
            cond.source = s
        }
        let frames: Int
        if let seconds { frames = Int((seconds * 44100 / Double(hop)).rounded()) } else if let s = cond.source { frames = s.count / D } else {
            frames = Int((Double(script.utf8.count) / Double(model.corpusRate.value[0]) * 44100 / Double(hop)).rounded())
        }
        var o = SamplerOptions()
        o.steps = steps; o.solver = sv; o.sway = sway; o.cfgText = cfgText; o.cfgRef = cfgRef; o.tStart = tStart; o.seed = seed
        let z = DiTSampler.sample(model, cond, frames: frames, options: o)
        let F = z.count / D
        var zd = [Float](repeating: 0, count: D * F)
        for f in 0..<F { for d in 0..<D { zd[d * F + f] = z[f * D + d] * model.latentStd.value[d] + model.latentMean.value[d] } }
        let y = VAEInference.decode(vaeModel, zd, frames: F)
        try AudioFile.write(Audio(samples: y, sampleRate: 44100), to: out)
        let secs = Double(y.count) / 44100, took = Date().timeIntervalSince(t0)
        print(String(format: "%@: %.2f s of audio, %d %@ steps × %d passes, in %.1f s (real-time factor %.2f)", out, secs, steps, solver,
                     DiTSampler.passes(cond), took, took / max(secs, 1e-9)))
    }
}
