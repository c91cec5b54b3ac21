import ArgumentParser
import Foundation
import TimbreMPI
import TimbreAudio
import TimbreMetrics
import TimbreTrain
import TimbreVAE
import TimbreVAETraining

struct VAECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae",
        abstract: "Use a trained VAE: reconstruct audio, encode a corpus to latent shards.",
        subcommands: [Reconstruct.self, Encode.self])

    struct Reconstruct: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Encode and decode one audio file (any length, any rate; written at 44.1 kHz).",
            discussion: """
                The input is mixed down to mono and resampled to 44.1 kHz. Encoding and decoding run in \
                chunks of --chunk latent frames with enough context on each side (the model's \
                receptive field), so a 10-minute file needs little memory and has no seams: the \
                result equals a one-pass reconstruction up to rounding. Prints SI-SDR of the result.

                A VAE with pitch channels tracks the input's pitch (YIN) and renders its decoder's \
                harmonic source once for the whole file, so the source's phase runs on across \
                chunks. --pitch-shift moves that pitch by a number of semitones (the learned \
                channels, and so the voice's timbre, stay as encoded); --seed fixes the source's noise.
                """)

        @Option(help: "VAE checkpoint (or training directory: its newest valid checkpoint).")
        var checkpoint: String
        @Argument(help: "Input audio file.") var input: String
        @Argument(help: "Output WAV (or .flac).") var output: String
        @Option(help: "Latent frames per chunk (each also computes the model's receptive field of context on both sides; smaller chunks touch less fresh memory, larger ones repeat less context).") var chunk = 256
        @Option(name: .customLong("pitch-shift"), parsing: .unconditional, help: ArgumentHelp("Semitones to move the pitch by (a VAE with pitch channels only; e.g. 4 or -4).", valueName: "semitones"))
        var pitchShift = 0.0
        @Option(help: "Seed of the pitch source's noise (a VAE with pitch channels only).") var seed: UInt64 = 0

        func validate() throws {
            guard (input as NSString).standardizingPath != (output as NSString).standardizingPath else {
                throw ValidationError("the output \(output) is the input: choose another name (the input would be overwritten)")
            }
            let ext = (output as NSString).pathExtension.lowercased()
            guard ext == "wav" || ext == "flac" else {
                throw ValidationError("the output \(output) must end in .wav or .flac (got '\(ext.isEmpty ? "no extension" : "." + ext)')")
            }
            guard chunk >= 1 && chunk <= 1 << 20 else { throw ValidationError("--chunk must be between 1 and 1048576 latent frames, got \(chunk)") }
            guard pitchShift.isFinite && abs(pitchShift) <= 48 else { throw ValidationError("--pitch-shift must be a finite number of semitones within ±48, got \(pitchShift)") }
        }

        mutating func run() throws {
            let (vae, path, _) = try VAEInference.load(checkpoint)
            if pitchShift != 0 && vae.config.pitch == nil {
                throw InputError("--pitch-shift needs a VAE with pitch channels (model.pitch); \(path) has none")
            }
            let a = try InputAudio.read(input, minSamples: vae.hop, purpose: "one latent frame of this VAE")
            let t0 = Date()
            let bar = TerminalProgress("reconstructing \(input)")
            let y = try VAEInference.reconstruct(vae, a.samples, chunkFrames: chunk, pitchShift: pitchShift, seed: seed) { bar.update($0, $1, unit: "latent frames encoded and decoded") }
            bar.finish()
            let secs = Date().timeIntervalSince(t0)
            try AudioFile.write(Audio(samples: y, sampleRate: Audio.modelRate), to: output)
            print(String(format: "%@ → %@ with %@: %.1f s of audio in %.2f s (real-time factor %.3f), SI-SDR %.2f dB",
                         input, output, path, a.seconds, secs, secs / max(a.seconds, 1e-9), siSDR(reference: a.samples, estimate: y)))
        }
    }

    struct Encode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Encode a corpus into latent shards with dataset statistics (docs/design.md §4).",
            discussion: """
                Writes one *.latent.h5 per audio shard (same split, same metadata) holding the latent \
                means (z = mean), frame offsets, the hop, the SHA-256 of the VAE's model.safetensors, \
                and the per-channel mean and std over the whole corpus (identical in every shard). \
                Under `mpirun -np N` the ranks share the shards.
                """)

        @Option(help: "VAE checkpoint (or training directory).") var checkpoint: String
        @Option(help: "Corpus directory (audio shards).") var data: String
        @Option(help: "Output directory for the latent shards.") var out: String

        mutating func run() throws {
            let (vae, path, hash) = try VAEInference.load(checkpoint)
            let ranks = Ranks.world
            if ranks.isRoot { print("encoding \(data) with \(path)") }
            let info = try VAEInference.encodeCorpus(vae, modelHash: hash, corpus: data, out: out, ranks: ranks) { print($0) }
            guard ranks.isRoot else { return }
            print("latent statistics: mean |μ| \(String(format: "%.3f", info.mean.map { abs(Double($0)) }.reduce(0, +) / Double(info.mean.count))), mean σ \(String(format: "%.3f", info.std.map(Double.init).reduce(0, +) / Double(info.std.count)))")
        }
    }
}
