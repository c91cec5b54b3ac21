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
        static let configuration = CommandConfiguration(abstract: "Counts, hours, speakers, variants and licences of a corpus.")

        @Argument(help: "Corpus directory.")
        var dir: String

        mutating func run() throws {
            print(try CorpusSummary(dir: dir, manifest: try CorpusManifest.load(dir)).text)
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

        @Option(help: "Normalise each clip to this integrated loudness (LUFS); default keeps levels.")
        var lufs: Double?

        @Flag(help: "Replace --out if it exists.")
        var force = false

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
