import ArgumentParser
import Foundation
import TimbreData

struct Corpus: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build, import and describe speech corpora (HDF5 audio shards).",
        subcommands: [Build.self, Import.self, Info.self])

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build audio shards and manifest.json from a corpus recipe.",
            discussion: """
                Sources (Datasets/README.md): espeak, flite, festival, asterisk, fillets (Debian main); \
                mbrola (contrib/non-free, opt-in). Real recordings are fetched with `apt-get download` \
                into --cache (never committed). Everything is resampled to 44.1 kHz mono and \
                normalised to −23 LUFS; environment and pace/pitch variants are rendered with sox. \
                The corpus is built under a temporary name and renamed when complete.
                """)

        @Option(help: "Corpus recipe (Datasets/NAME.json).")
        var recipe: String

        @Option(help: "Output directory for the shards and manifest.json.")
        var out: String

        @Option(help: "Where downloaded packages are unpacked.")
        var cache = "Datasets/cache"

        @Flag(help: "Replace --out if it exists.")
        var force = false

        mutating func run() throws {
            let b = try CorpusBuilder(recipePath: recipe, cache: cache)
            let m = try b.build(out: out, replace: force)
            print(try CorpusSummary(dir: out, manifest: m).text)
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Counts, hours, speakers, variants and licences of a corpus; --verify reads it all back.")

        @Argument(help: "Corpus directory.")
        var dir: String

        @Flag(help: "Also read every sample of every shard: HDF5 checks each chunk's Fletcher-32 checksum (shards written since it was added) and Timbre checks the audio is finite.")
        var verify = false

        mutating func run() throws {
            let m = try CorpusManifest.load(dir)
            print(try CorpusSummary(dir: dir, manifest: m).text)
            if verify {
                let t0 = Date()
                let n = try CorpusVerify.run(dir: dir, manifest: m)
                print(String(format: "verified: %d clips, %.1f hours of audio read back in %.1f s", n.clips, n.seconds / 3600, Date().timeIntervalSince(t0)))
            }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Build shards from your own recordings and a CSV/JSONL of transcripts.",
            discussion: """
                The metadata file has one entry per clip: `file` (relative to --audio), `text`, and \
                optionally `speaker`, `description`, `language`, `gender`. CSV needs a header row; \
                JSONL has one object per line. Any format libsndfile reads, any rate and channel \
                count; clips are resampled to 44.1 kHz mono. Unreadable or silent files are \
                skipped with a warning and counted in the manifest.
                """)

        @Option(help: "Folder with the audio files.")
        var audio: String

        @Option(help: "Transcripts: .csv (with header) or .jsonl.")
        var metadata: String

        @Option(help: "Output corpus directory.")
        var out: String

        @Option(name: .customLong("held-out-speakers"), help: "Speakers to hold out entirely for evaluation.")
        var heldOutSpeakers = 0

        @Option(name: .customLong("held-out-fraction"), help: "Fraction of the other speakers' utterances to hold out.")
        var heldOutFraction = 0.05

        @Option(parsing: .unconditional, help: ArgumentHelp("Normalise each clip to this integrated loudness (LUFS, -70…0, e.g. --lufs -23); default keeps levels.", valueName: "LUFS"))
        var lufs: Double?

        @Flag(help: "Replace --out if it exists.")
        var force = false

        func validate() throws {
            guard (0...100_000).contains(heldOutSpeakers) else { throw ValidationError("--held-out-speakers must be in 0…100000, got \(heldOutSpeakers)") }
            guard heldOutFraction >= 0 && heldOutFraction < 1 else {
                throw ValidationError("--held-out-fraction must be in [0, 1) (a fraction of each speaker's utterances), got \(heldOutFraction)")
            }
            if let lufs, !(lufs >= -70 && lufs <= 0) { throw ValidationError("--lufs must be an integrated loudness in -70…0 LUFS, got \(lufs)") }
        }

        mutating func run() throws {
            let rows = try CorpusImport.readMetadata(metadata)
            let name = (out as NSString).lastPathComponent
            let b = CorpusBuilder(importRows: rows, audioDir: audio, name: name,
                                  heldOut: HeldOutSpec(speakers: heldOutSpeakers, utterance_fraction: heldOutFraction), loudness: lufs,
                                  options: ["audio": audio, "metadata": metadata, "lufs": lufs.map { String($0) } ?? "none"])
            let m = try b.build(out: out, replace: force)
            print(try CorpusSummary(dir: out, manifest: m).text)
        }
    }
}
