import ArgumentParser
import Foundation
import TimbreAudio
import TimbreData
import TimbreMPI
import TimbreBench
import TimbreTensor

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that BLAS computes correct results on this CPU, and print its rate and the libraries found.",
        discussion: """
            Some OpenBLAS builds select a kernel for newer CPUs that computes wrong results. The \
            doctor multiplies matrices of several shapes (every transpose combination, sizes that \
            reach OpenBLAS's optimised kernels) and compares with a plain loop in Float64. If the \
            check fails, run again with OPENBLAS_CORETYPE=Haswell (or another core your CPU \
            supports) set in the environment, and keep it set for training.
            """)

    @OptionGroup var report: JSONReportOption

    /// `--json`: what the doctor found.
    struct Result: Encodable {
        var version: String, blas_core: String, blas_threads: Int, libsndfile: String, hdf5: String, mpi: String, workers: Int
        var products_checked: Int, wrong_products: [String], sgemm_gflops_1_thread: Double, sgemm_gflops_2_threads: Double
    }

    mutating func run() throws {
        let env = ProcessInfo.processInfo.environment
        print("timbre \(Timbre.version)")
        print("OpenBLAS: core \(BLAS.coreName), \(BLAS.threads) threads, OPENBLAS_CORETYPE=\(env["OPENBLAS_CORETYPE"] ?? "(unset)")")
        print("          \(BLAS.config)")
        print("libsndfile: \(AudioFile.libraryVersion)")
        print("HDF5: \(HDF5Library.version)")
        print("MPI: \(Ranks.libraryVersion)" + (Ranks.launchedByMPI ? " (started by an MPI launcher)" : ""))
        print("Workers: \(Parallel.workers) (TIMBRE_THREADS to change)")
        let failures = BLASCheck.run()
        for f in failures { print("  WRONG: \(f)") }
        if failures.isEmpty {
            print("BLAS results: correct (\(BLASCheck.shapes.count * 4) products checked against Float64 loops)")
        } else {
            print("BLAS results: \(failures.count) products wrong. Set OPENBLAS_CORETYPE=Haswell and run `timbre doctor` again.")
        }
        let r1 = Bench.sgemmRate(threads: 1), r2 = Bench.sgemmRate(threads: 2)
        print(String(format: "sgemm 1024³: %.1f GFLOP/s on 1 thread, %.1f GFLOP/s on 2 threads", r1, r2))
        try report.write(Result(version: Timbre.version, blas_core: BLAS.coreName, blas_threads: BLAS.threads, libsndfile: AudioFile.libraryVersion,
                                hdf5: HDF5Library.version, mpi: Ranks.libraryVersion, workers: Parallel.workers,
                                products_checked: BLASCheck.shapes.count * 4, wrong_products: failures, sgemm_gflops_1_thread: r1, sgemm_gflops_2_threads: r2))
        if !failures.isEmpty { throw ExitCode(1) }
    }
}
