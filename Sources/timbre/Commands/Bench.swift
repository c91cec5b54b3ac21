import ArgumentParser
import Foundation
import TimbreAudio
import TimbreBench
import TimbreDiT
import TimbreMetrics
import TimbreMPI
import TimbreData
import TimbreLayers
import TimbreTrain
import TimbreVAE
import TimbreTensor
import TimbreVAETraining
import TimbreDiTTraining

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure speed: GFLOP/s against this run's sgemm rate.",
        subcommands: [Layers.self, VAESpeed.self, DiTSpeed.self, SampleSpeed.self, CheckpointSpeed.self, LoaderSpeed.self, EvalSpeed.self, AllReduce.self])

    struct Layers: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forward and backward GFLOP/s of Linear, Conv1d, ConvTranspose1d and joint attention.",
            discussion: """
                FLOPs follow docs/design.md §1: 2 per multiply-add, matrix products and convolutions only, \
                backward = 2 × forward. The ratio column divides the forward+backward rate by \
                cblas_sgemm at 1024³ on 2 threads, measured at the start of the same run.
                """)

        @Option(help: "Timed repetitions per measurement (the best is reported).")
        var repeats = 5

        @Option(help: "Only the layers whose name contains this text (e.g. conv, attention).")
        var only: String?

        @Option(help: "Also write the rows as JSON to this file.")
        var json: String?

        mutating func run() throws {
            let sgemm = Bench.sgemmRate()
            print(String(format: "sgemm 1024³, 2 threads: %.1f GFLOP/s (OpenBLAS core %@; convolution tiles for %@)", sgemm, BLAS.coreName,
                         CPUFeatures.avx512 ? "AVX-512" : "AVX2"))
            print(BenchRow.header())
            var cfg = LayerBench.Config()
            cfg.repeats = repeats
            cfg.only = only
            let rows = LayerBench.run(cfg, sgemm: sgemm) { print($0.line) }
            // The machine's rate drifts by ±10 % over a run; measure again and say so if it moved.
            let after = Bench.sgemmRate()
            print(String(format: "sgemm again after the layers: %.1f GFLOP/s (ratios above use the first figure)", after))
            print(String(format: "peak memory: %.0f MiB", Bench.peakMemoryMiB()))
            if let json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.prettyPrinted, .sortedKeys]
                try enc.encode(rows).write(to: URL(fileURLWithPath: json))
            }
        }
    }

    struct AllReduce: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "allreduce",
            abstract: "All-reduce bandwidth of a flat gradient buffer across the ranks of an MPI job.",
            discussion: """
                Run under an MPI launcher, e.g. `mpirun -np 2 timbre bench allreduce`. Sums a buffer                 of each --parameters size (default: the parameter counts of Recipes/vae-small-pitch.json                 and Recipes/dit-small.json) over the ranks the way training does (MPI_Allreduce, sum,                 in place, in chunks of --chunk floats), checks the sums, and prints the time (best and                 median of --repeats), the algorithm bandwidth (bytes ÷ time) and the bus bandwidth                 (× 2(N − 1)/N, the bytes each rank sends and receives in a ring all-reduce). Rank 0 prints.
                """)

        @Option(help: "Buffer sizes in parameters (float32), repeatable.")
        var parameters: [Int] = []
        @Option(help: "Floats per MPI call.") var chunk = Ranks.chunkElements
        @Option(help: "Timed repetitions per size.") var repeats = 10

        func validate() throws {
            if parameters.contains(where: { $0 < 1 || $0 > 1 << 31 }) { throw ValidationError("--parameters must be in 1…2^31") }
            if chunk < 1 || chunk > Int(Int32.max) { throw ValidationError("--chunk must be in 1…\(Int32.max), got \(chunk)") }
            if repeats < 1 || repeats > 10_000 { throw ValidationError("--repeats must be in 1…10000, got \(repeats)") }
        }

        mutating func run() throws {
            var sizes = parameters.map { ("--parameters", $0) }
            if sizes.isEmpty {
                sizes = [("vae-small-pitch", Int(try Recipe<VAEConfig>.load("Recipes/vae-small-pitch.json", expecting: "vae").0.model.parameterEstimate)),
                         ("dit-small", Int(try Recipe<DiTConfig>.load("Recipes/dit-small.json", expecting: "dit").0.model.parameterEstimate))]
            }
            let ranks = Ranks.world
            Ranks.chunkElements = chunk
            let say = { (line: String) in if ranks.isRoot { print(line) } }
            guard ranks.isDistributed else {
                say("1 rank: nothing to reduce. Run under an MPI launcher, e.g. mpirun -np 2 timbre bench allreduce (docs/distributed.md).")
                return
            }
            say("\(ranks.size) ranks (\(Ranks.libraryVersion)); chunks of \(chunk) floats; best and median of \(repeats)")
            say("  buffer                           MB    best s  median s   algbw GB/s   busbw GB/s")
            try AllReduceBench.run(sizes, ranks: ranks, repeats: repeats) { r in
                let label = "\(r.name) (\(r.count))"
                say("  " + label.padding(toLength: max(26, label.count), withPad: " ", startingAt: 0)
                    + String(format: " %8.1f  %8.4f  %8.4f   %10.2f   %10.2f", r.megabytes, r.best, r.median, r.algorithmGBs, r.busGBs(ranks: ranks.size)))
            }
        }
    }

    struct CheckpointSpeed: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "checkpoint",
            abstract: "Save and load speed of weights + AdamW moments (fsync included) against dd conv=fsync.",
            discussion: """
                Saves a checkpoint of a model with --parameters parameters (weights and both AdamW \
                moments: 12 bytes per parameter), validates its SHA-256 hashes and loads it back, \
                and compares with `dd bs=8M conv=fsync` copying the checkpoint's files (the same \
                bytes) within the same directory. Best of --repeats.
                """)

        @Option(help: "Model size in parameters.")
        var parameters = 50_000_000

        @Option(help: "Directory to write in (the disk being measured).")
        var directory = "Checkpoints"

        @Option(help: "Repetitions (the best is reported).")
        var repeats = 3

        mutating func run() throws {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let r = try CheckpointBench.run(parameters: parameters, directory: directory, repeats: repeats)
            print(String(format: "checkpoint of %d parameters (%.0f MB: weights + 2 AdamW moments) in %@", r.parameters, Double(r.bytes) / 1e6, directory))
            print(String(format: "save (write + fsync + SHA-256):   %7.0f MB/s  %.2f s", r.saveMBs, r.saveSeconds))
            print(String(format: "load (verify SHA-256 + read):     %7.0f MB/s  %.2f s", r.loadMBs, r.loadSeconds))
            print(String(format: "dd bs=8M conv=fsync of the files:  %7.0f MB/s  %.2f s", r.ddMBs, r.ddSeconds))
            print(String(format: "save ÷ dd: %.2f   load ÷ dd: %.2f", r.saveMBs / r.ddMBs, r.loadMBs / r.ddMBs))
            print(String(format: "peak memory: %.0f MiB", Bench.peakMemoryMiB()))
        }
    }

    struct LoaderSpeed: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "loader",
            abstract: "Random-crop loading speed from int16 shards, in seconds of audio per second.",
            discussion: """
                Reads --batches batches of --batch-size random crops of --crop samples from the \
                corpus's train split (no prefetch, so this is the loader's own rate) and reports the \
                audio seconds delivered per wall-clock second (the real-time factor of loading).
                """)

        @Option(help: "Corpus directory (e.g. one built from Datasets/tiny.json).")
        var data: String

        @Option(name: .customLong("batch-size")) var batchSize = 16
        @Option(help: "Crop length in samples.") var crop = 65536
        @Option var batches = 50

        mutating func run() throws {
            let split = try CorpusSplit(dir: data)
            let loader = try CropLoader(split: split, batchSize: batchSize, length: crop, seed: 1, prefetch: 0)
            _ = try loader.make(batch: 0)
            let t0 = Bench.now()
            for b in 1...batches { _ = try loader.make(batch: b) }
            let t = Bench.now() - t0
            let audioSeconds = Double(batches * batchSize * crop) / Double(Audio.modelRate)
            print(String(format: "%d batches × %d crops × %d samples from %d clips in %d shards: %.3f s for %.1f s of audio",
                         batches, batchSize, crop, split.count, split.shards.count, t, audioSeconds))
            print(String(format: "loader: %.0f× real time (%.1f MB/s of float32 samples)", audioSeconds / t,
                         Double(batches * batchSize * crop * 4) / t / 1e6))
            print(String(format: "peak memory: %.0f MiB", Bench.peakMemoryMiB()))
        }
    }

    struct VAESpeed: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "vae",
            abstract: "VAE training step GFLOP/s (forward, MR-STFT + KL, backward, AdamW) and 10 s decode real-time factor.",
            discussion: """
                Default configuration (vae-small's size): C=32, multipliers [1,2,4,8,16], strides \
                [2,4,4,8,8], D=32, weight norm, batch 4 × 32,768 samples. FLOPs count the convolutions \
                only (docs/design.md §1: 2 per multiply-add, backward = 2 × forward); the ratio divides by \
                cblas_sgemm 1024³ on 2 threads measured in the same run.
                """)

        @Option(help: "A VAE recipe whose model to use (default: the configuration above).")
        var recipe: String?
        @Option(name: .customLong("batch-size")) var batchSize = 4
        @Option(help: "Samples per example.") var samples = 32768
        @Option(help: "Timed steps (the best is reported).") var steps = 3
        @Flag(name: .customLong("by-layer"),
              help: "Also time each convolution product (gather: Conv1d forward and ConvTranspose1d input gradient; scatter: the reverse; weightGrad), weight packing (inside gather and scatter), weight norm and SnakeBeta over --steps more steps.")
        var byLayer = false
        @Option(help: "With --recipe: also time the recipe's own training step (its losses, pitch source and adversarial stage) on this corpus, as `train vae` runs it.")
        var data: String?

        func validate() throws {
            if data != nil && recipe == nil { throw ValidationError("--data needs --recipe: it times that recipe's training step") }
            if steps < 1 { throw ValidationError("--steps must be ≥ 1, got \(steps)") }
        }

        mutating func run() throws {
            var cfg = VAEConfig(channels: 32, multipliers: [1, 2, 4, 8, 16], strides: [2, 4, 4, 8, 8], latent_dim: 32, weight_norm: true)
            if let recipe { cfg = try Recipe<VAEConfig>.load(recipe, expecting: "vae").0.model }
            let before = Bench.sgemmRate()
            var r = try VAEBench.run(cfg, batch: batchSize, samples: samples, steps: steps, sgemm: before, byLayer: byLayer)
            // This VM's sgemm rate dips for seconds at a time: the ratio uses the better of the
            // measurements before and after the steps (the conservative one for the ratio).
            let after = Bench.sgemmRate()
            r.sgemm = max(before, after)
            print(String(format: "sgemm 1024³, 2 threads: %.1f GFLOP/s before, %.1f after", before, after))
            print("VAE C=\(cfg.channels) multipliers \(cfg.multipliers) strides \(cfg.strides) D=\(cfg.latent_dim), batch \(batchSize) × \(samples)")
            print(String(format: "training step: %.3f s, %.1f GFLOP (fwd+bwd), %.1f GFLOP/s = %.2f of sgemm", r.stepSeconds,
                         3 * r.flopsPerStep / 1e9, r.gflops, r.ratio))
            print("  parts: " + r.parts.map { String(format: "%@ %.3f s", $0.0, $0.1) }.joined(separator: ", "))
            print(String(format: "  page faults per step: %.0f", r.faultsPerStep))
            print(String(format: "decode %.1f s of audio: %.3f s, real-time factor %.4f (first call, fresh buffers: %.3f s, %.4f)", r.decodedSeconds,
                         r.decodeSeconds, r.decodeRTF, r.coldDecodeSeconds, r.coldDecodeSeconds / r.decodedSeconds))
            print(String(format: "peak memory: %.0f MiB", Bench.peakMemoryMiB()))
            if byLayer { printLayerRows(r.layerRows, steps: steps, stepSeconds: r.stepSeconds) }
            if let data, let recipe { try benchRecipe(recipe, data: data, sgemm: r.sgemm) }
        }

        /// The recipe's training step through `VAETask`, the task `train vae` builds.
        func benchRecipe(_ path: String, data: String, sgemm: Double) throws {
            let (recipe, _) = try Recipe<VAEConfig>.load(path, expecting: "vae")
            let seed = recipe.seed ?? 0
            let task = try VAETask(recipe: recipe, file: path, corpus: data, seed: seed, jobMicroBatches: recipe.training.microBatches, evalClips: 0)
            let r = try RecipeBench.run(task, training: recipe.training, seed: seed, steps: steps)
            let crop = task.loader.length
            let flops = 3 * VAEBench.forwardFLOPs(recipe.model, batch: r.examplesPerStep, samples: crop)
            print(String(format: "%@ on %@ (batch %d × %d samples, as train vae runs it: data, losses, backward, AdamW%@): best %.3f s, median %.3f s of %d steps after the first; the VAE's convolutions %.1f GFLOP/s = %.2f of sgemm",
                         path, data, r.examplesPerStep, crop, task.adversary == nil ? "" : ", discriminator", r.best, r.median, steps,
                         flops / r.best / 1e9, flops / r.best / 1e9 / sgemm))
        }

        func printLayerRows(_ rows: [LayerTimes.Row], steps: Int, stepSeconds: Double) {
            print("by layer, per step (mean of \(steps) steps; packing is inside gather and scatter):")
            print("  seconds  share  GFLOP/s  calls  what")
            for row in rows {
                let s = row.seconds / Double(steps)
                let rate = row.flops > 0 ? String(format: "%7.1f", row.flops / row.seconds / 1e9) : "      -"
                print(String(format: "  %7.4f  %5.1f%%  %@  %5d  %@", s, 100 * s / stepSeconds, rate, row.calls / steps, row.name))
            }
        }
    }

    struct EvalSpeed: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "eval",
            abstract: "Time the docs/design.md §6 metrics (no model passes) on pairs of 5 s clips.",
            discussion: """
                Synthesises four sentences with espeak-ng (repeated to --seconds), pairs each \
                clip with a degraded copy (added noise, a different gain) and times every metric \
                group over --pairs pairs: SI-SDR; mel, STFT and MR-STFT distances; STOI and ESTOI \
                (with pystoi's resampling to 10 kHz); F0, loudness, RT60 and active speech for both \
                clips; speaker similarity (the GE2E encoder on both clips) when its weights exist.
                """)
        @Option(help: "Number of pairs.") var pairs = 100
        @Option(help: "Seconds per clip.") var seconds = 5.0
        @Option(help: "Speaker-encoder weights.") var speakerEncoder = SpeakerEncoder.defaultWeights

        mutating func run() throws {
            let set = try EvalBench.spokenPairs(pairs, seconds: seconds)
            let enc = FileManager.default.fileExists(atPath: SpeakerEncoder.locate(speakerEncoder)) ? try SpeakerEncoder(weights: speakerEncoder) : nil
            print("metrics on \(pairs) pairs of \(seconds) s clips at 44.1 kHz\(enc == nil ? " (no speaker-encoder weights: similarity left out)" : "")")
            let res = try EvalBench.run(set, encoder: enc) { print($0) }
            for (k, v) in res.parts { print(k.padding(toLength: 46, withPad: " ", startingAt: 0) + String(format: "%7.2f s  (%.1f ms per pair)", v, 1000 * v / Double(pairs))) }
            print(String(format: "total: %.1f s for %d pairs (target: under 60 s for 100 pairs of 5 s); peak memory %.0f MiB", res.total, pairs, Bench.peakMemoryMiB()))
        }
    }

    struct DiTSpeed: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dit",
            abstract: "MM-DiT training step GFLOP/s against the same run's sgemm rate.",
            discussion: """
                Default configuration (dit-small's size): d_audio 384, d_text 256, 8 layers, 6 heads × 64, SwiGLU \
                1024/768, D = 32, batch 8 with 160 target, 80 reference, 120 script and 80 description \
                tokens. A step is forward, MSE, backward and AdamW; FLOPs count matrix products only \
                (2 per multiply-add, backward = 2 × forward). The best of --steps after a warm-up.
                """)
        @Option(help: "Timed steps.") var steps = 3
        @Option(help: "Also time this recipe's own training step on --data, as `train dit` runs it.") var recipe: String?
        @Option(help: "Latent shards for --recipe.") var data: String?

        func validate() throws {
            if (recipe == nil) != (data == nil) { throw ValidationError("--recipe and --data go together: they time that recipe's training step on those latents") }
            if steps < 1 { throw ValidationError("--steps must be ≥ 1, got \(steps)") }
        }

        mutating func run() throws {
            let sgemm = Bench.sgemmRate()
            print(String(format: "sgemm 1024³, 2 threads: %.1f GFLOP/s", sgemm))
            if let recipe, let data { try benchRecipe(recipe, data: data) }
            let r = DiTBench.train(DiTBench.benchConfig, DiTBench.Shape(), steps: steps, sgemm: sgemm)
            print(String(format: "MM-DiT step: %.1f GFLOP (forward %.1f), %.3f s → %.1f GFLOP/s = %.2f of sgemm; %d parameters; peak memory %.0f MiB",
                         3 * r.flopsPerStep / 1e9, r.flopsPerStep / 1e9, r.stepSeconds, r.gflops, r.ratio, r.parameters, Bench.peakMemoryMiB()))
            for (k, v) in r.parts { print(String(format: "  %@ %.3f s", k, v)) }
            print(String(format: "sgemm after: %.1f GFLOP/s", Bench.sgemmRate()))
        }

        /// The recipe's training step through `DiTTask`, the task `train dit` builds (bucketed
        /// whole utterances, so the batch's shape and FLOPs vary from step to step).
        func benchRecipe(_ path: String, data: String) throws {
            let (recipe, _) = try Recipe<DiTConfig>.load(path, expecting: "dit")
            let seed = recipe.seed ?? 0
            let task = try DiTTask(recipe: recipe, latents: data, seed: seed, jobMicroBatches: recipe.training.microBatches)
            let r = try RecipeBench.run(task, training: recipe.training, seed: seed, steps: steps)
            print(String(format: "%@ on %@ (batch %d, as train dit runs it: data, flow-matching loss, backward, AdamW): best %.3f s, median %.3f s of %d steps after the first; %.1f examples/s",
                         path, data, r.examplesPerStep, r.best, r.median, steps, Double(r.examplesPerStep) / r.median))
        }
    }

    struct SampleSpeed: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sample",
            abstract: "Real-time factor of generating 10 s of audio (MM-DiT sampling + VAE decode).",
            discussion: """
                The bench dit configuration with the bench vae configuration (random weights: speed does not \
                depend on them): voice design (150-byte script, 80-byte description, one guidance weight: 2 passes \
                per step) and cloning (plus a 5 s reference, separate weights: 3 passes), Euler steps. \
                Also prints two floors for the sampling part: its FLOPs at the full sgemm 1024³ rate, and its \
                matrix products alone (the same GEMM shapes, called as the model calls them, timed without \
                anything else) — what no tuning outside BLAS can beat.
                """)
        @Option(help: "Euler steps.") var steps = 32
        @Option(help: "Seconds of audio.") var seconds = 10.0

        mutating func run() throws {
            let vc = VAEConfig(channels: 32, multipliers: [1, 2, 4, 8, 16], strides: [2, 4, 4, 8, 8], latent_dim: 32, weight_norm: true)
            let sgemm = Bench.sgemmRate()
            print(String(format: "sgemm 1024³, 2 threads: %.1f GFLOP/s", sgemm))
            for (name, ref) in [("design", nil), ("cloning", 5.0)] as [(String, Double?)] {
                let r = DiTBench.sample(DiTBench.benchConfig, vae: vc, audioSeconds: seconds, steps: steps, scriptBytes: 150,
                                        descriptionBytes: 80, referenceSeconds: ref)
                print(String(format: "%@: %.2f s of audio, %d steps × %d passes: %.2f s (VAE decode %.2f s) → real-time factor %.3f",
                             name, r.audioSeconds, r.steps, r.passes, r.seconds, r.decodeSeconds, r.rtf))
                let floor = r.samplingFLOPs / (sgemm * 1e9)
                print(String(format: "  sampling: %.0f GFLOP at %.1f GFLOP/s = %.2f of sgemm; at the full sgemm rate it would take %.2f s (real-time factor %.3f with this decode)",
                             r.samplingFLOPs / 1e9, r.samplingGFLOPs, r.samplingGFLOPs / sgemm, floor, (floor + r.decodeSeconds) / r.audioSeconds))
                print(String(format: "  its matrix products alone (same GEMM shapes, timed in isolation): %.2f s = %.2f of sgemm → real-time factor %.3f with this decode; everything else in sampling: %.2f s",
                             r.matrixProductSeconds, floor / r.matrixProductSeconds, r.matrixProductRTF,
                             r.seconds - r.decodeSeconds - r.matrixProductSeconds))
            }
            print(String(format: "peak memory %.0f MiB", Bench.peakMemoryMiB()))
        }
    }
}
