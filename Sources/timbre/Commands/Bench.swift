import ArgumentParser
import Foundation
import TimbreBench
import TimbreTensor

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure speed: GFLOP/s against this run's sgemm rate.",
        subcommands: [Layers.self])

    struct Layers: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forward and backward GFLOP/s of Linear, Conv1d, ConvTranspose1d and joint attention.",
            discussion: """
                FLOPs follow SPEC §1: 2 per multiply-add, matrix products and convolutions only,
                backward = 2 × forward. The ratio column divides the forward+backward rate by
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
            print(String(format: "sgemm 1024³, 2 threads: %.1f GFLOP/s (OpenBLAS core %@)", sgemm, BLAS.coreName))
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
}
