// swift-tools-version:6.0
import PackageDescription

// Release builds compile for the host CPU (AVX2/FMA on x86-64): elementwise kernels run about 2×
// faster than the SSE2 baseline (MACHINE.md). Cross-module optimisation lets the generic numeric
// code of the library modules specialise for Float in the modules that use it.
// The test command builds in release mode too (`swift test -c release`): the tests run numeric
// code — gradient checks, corpus building, a small VAE training run — that is 10–100× slower
// unoptimised or unspecialised, so they test the code users run.
let speed: [SwiftSetting] = [
    .unsafeFlags(["-target-cpu", "native", "-cross-module-optimization"], .when(configuration: .release)),
]

let package = Package(
    name: "Timbre",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "timbre", targets: ["timbre"]),
        .library(name: "TimbreLayers", targets: ["TimbreLayers"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries (Debian: libopenblas-dev, libsndfile1-dev, libhdf5-dev).
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CSndFile", path: "Sources/CSndFile", pkgConfig: "sndfile",
                       providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5-serial",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSoxr", path: "Sources/CSoxr", pkgConfig: "soxr", providers: [.apt(["libsoxr-dev"])]),
        .systemLibrary(name: "CEbur128", path: "Sources/CEbur128", pkgConfig: "libebur128", providers: [.apt(["libebur128-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CFFTW", path: "Sources/CFFTW", pkgConfig: "fftw3f", providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),  // glibc's mallopt (no library to link)
        // MPI for multi-process training (Debian: libopenmpi-dev; pkg-config 'mpi-c' is Debian's
        // default MPI, Open MPI or MPICH). Only processes started by mpirun/srun call MPI_Init.
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "mpi-c", providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .systemLibrary(name: "CFFTWDouble", path: "Sources/CFFTWDouble", pkgConfig: "fftw3", providers: [.apt(["libfftw3-dev"])]),

        // Tensor core: storage, BLAS, parallel elementwise kernels, RNG, flat parameter buffers.
        .target(name: "TimbreTensor", dependencies: ["COpenBLAS"], exclude: ["README.md"], swiftSettings: speed),
        // Layers with hand-written backward passes.
        .target(name: "TimbreLayers", dependencies: ["TimbreTensor"], exclude: ["README.md"], swiftSettings: speed),
        // File formats: safetensors, strict JSON, SHA-256, durable writes.
        .target(name: "TimbreFormats", dependencies: ["COpenSSL"], swiftSettings: speed),
        // The job's processes (ranks) and their collectives: all-reduce, broadcast, gather.
        .target(name: "TimbreMPI", dependencies: ["CMPI"], swiftSettings: speed),
        // What a trained model is on disk, for generation and training alike: the model-config
        // protocol, the recipe as a checkpoint stores it, reading checkpoints and releases.
        .target(name: "TimbreCheckpoint", dependencies: ["TimbreTensor", "TimbreFormats"], swiftSettings: speed),
        // Training every model shares: recipes, AdamW, schedules, EMA, writing checkpoints, the trainer loop.
        .target(name: "TimbreTrain", dependencies: ["TimbreTensor", "TimbreFormats", "TimbreMPI", "TimbreCheckpoint"], swiftSettings: speed),
        // The smallest training task (an MLP on synthetic data): `timbre train mlp` and the trainer's tests.
        .target(name: "TimbreToy", dependencies: ["TimbreTensor", "TimbreLayers", "TimbreCheckpoint", "TimbreTrain"], swiftSettings: speed),
        // Audio files (libsndfile), resampling (libsoxr), loudness (libebur128).
        .target(name: "TimbreAudio", dependencies: ["CSndFile", "CSoxr", "CEbur128", "TimbreFormats"], swiftSettings: speed),
        // Signal processing for losses and metrics: STFT (FFTW), windows, mel filterbank, F0.
        .target(name: "TimbreDSP", dependencies: ["TimbreTensor", "CFFTW", "CFFTWDouble"], swiftSettings: speed),
        // Losses with backward passes (multi-resolution STFT, …).
        .target(name: "TimbreLosses", dependencies: ["TimbreDSP", "TimbreTensor"], swiftSettings: speed),
        // Evaluation metrics of docs/design.md §6 (SI-SDR, STOI/ESTOI, …), each checked against a reference implementation.
        .target(name: "TimbreMetrics", dependencies: ["TimbreTensor", "TimbreDSP", "TimbreLosses", "TimbreAudio", "TimbreFormats"], swiftSettings: speed),
        // Evaluation suites and their reports (`timbre eval`): metrics.json, report.md, report.html.
        .target(name: "TimbreEval", dependencies: ["TimbreMetrics", "TimbreVAE", "TimbreDiT", "TimbreData", "TimbreAudio", "TimbreDSP", "TimbreFormats", "TimbreMPI", "TimbreTensor", "CPNG", "TimbreCheckpoint"], swiftSettings: speed),
        // The multimodal flow-matching transformer (docs/design.md §3): model, sampler, loading.
        .target(name: "TimbreDiT", dependencies: ["TimbreTensor", "TimbreLayers", "TimbreFormats", "TimbreCheckpoint"], swiftSettings: speed),
        // Training the MM-DiT: its recipe sections, latent corpus, task and `dump-step`.
        .target(name: "TimbreDiTTraining", dependencies: ["TimbreDiT", "TimbreTensor", "TimbreTrain", "TimbreData", "TimbreFormats", "TimbreAudio", "TimbreCheckpoint"], swiftSettings: speed),
        // The waveform VAE (docs/design.md §2): model, pitch track and source, chunked inference, loading.
        .target(name: "TimbreVAE", dependencies: ["TimbreTensor", "TimbreDSP", "TimbreFormats", "TimbreLayers", "TimbreAudio", "TimbreCheckpoint"], swiftSettings: speed),
        // Training the VAE: its recipe sections, task, adversarial stage, `dump-step`, corpus encoding.
        .target(name: "TimbreVAETraining", dependencies: ["TimbreVAE", "TimbreTensor", "TimbreDSP", "TimbreFormats", "TimbreMPI", "TimbreLayers", "TimbreLosses", "TimbreDiscriminator", "TimbreMetrics", "TimbreTrain", "TimbreData", "TimbreAudio", "TimbreCheckpoint"], swiftSettings: speed),
        // HDF5 shards, the corpus builder and the data loader.
        .target(name: "TimbreData", dependencies: ["TimbreTensor", "TimbreAudio", "TimbreDSP", "TimbreFormats", "CHDF5"], swiftSettings: speed),
        // The adversarial stage's multi-scale STFT discriminator and its losses (docs/design.md §2).
        .target(name: "TimbreDiscriminator", dependencies: ["TimbreTensor", "TimbreDSP", "TimbreLayers", "TimbreLosses"], swiftSettings: speed),
        // Finite-difference gradient checking and the layers' cases (used by tests and `timbre selfcheck`).
        .target(name: "TimbreGradCheck", dependencies: ["TimbreTensor", "TimbreLayers"], swiftSettings: speed),
        // Gradient cases for the losses, the discriminator and whole models.
        .target(name: "TimbreModelCases", dependencies: ["TimbreGradCheck", "TimbreTensor", "TimbreLayers", "TimbreLosses", "TimbreVAE", "TimbreDiT", "TimbreDiscriminator"], swiftSettings: speed),
        // Benchmarks behind `timbre bench`.
        .target(name: "TimbreBench", dependencies: ["TimbreTensor", "TimbreFormats", "TimbreMPI", "TimbreLayers", "TimbreLosses", "TimbreTrain", "TimbreVAE", "TimbreMetrics", "TimbreDiT", "TimbreAudio", "TimbreCheckpoint"], swiftSettings: speed),
        .executableTarget(
            name: "timbre",
            dependencies: [
                "TimbreTensor", "TimbreLayers", "TimbreGradCheck", "TimbreModelCases", "TimbreBench", "TimbreFormats", "TimbreCheckpoint", "TimbreTrain", "TimbreToy",
                "TimbreAudio", "TimbreData", "TimbreMetrics", "TimbreEval", "TimbreVAE", "TimbreVAETraining", "TimbreDiT", "TimbreDiTTraining", "TimbreMPI", "CMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: speed),

        .testTarget(name: "TimbreTensorTests", dependencies: ["TimbreTensor"]),
        .testTarget(name: "TimbreLayersTests", dependencies: ["TimbreTensor", "TimbreLayers", "TimbreGradCheck", "TimbreDiscriminator"]),
        .testTarget(name: "TimbreModelCasesTests", dependencies: ["TimbreGradCheck", "TimbreModelCases"]),
        .testTarget(name: "TimbreFormatsTests", dependencies: ["TimbreFormats"]),
        .testTarget(name: "TimbreTrainTests", dependencies: ["TimbreTensor", "TimbreFormats", "TimbreCheckpoint", "TimbreTrain", "TimbreToy", "TimbreTestSupport"]),
        .testTarget(name: "TimbreDSPTests", dependencies: ["TimbreDSP"]),
        .testTarget(name: "TimbreDataTests", dependencies: ["TimbreTensor", "TimbreAudio", "TimbreData", "TimbreTestSupport"]),
        // Helpers shared by the test targets (reference-Python runner, temporary directories).
        .target(name: "TimbreTestSupport", path: "Tests/TimbreTestSupport"),
        .testTarget(name: "TimbreMetricsTests", dependencies: ["TimbreMetrics", "TimbreAudio", "TimbreTestSupport"]),
        .testTarget(name: "TimbreEvalTests", dependencies: ["TimbreEval"]),
        .testTarget(name: "TimbreDiTTests", dependencies: ["TimbreTensor", "TimbreDiT", "TimbreData", "TimbreTrain", "TimbreTestSupport", "TimbreDiTTraining"]),
        .testTarget(name: "TimbreVAETests", dependencies: ["TimbreTensor", "TimbreTrain", "TimbreVAE", "TimbreMetrics", "TimbreLosses", "TimbreDSP", "TimbreGradCheck",
                                                            "TimbreTestSupport"]),
        .testTarget(name: "TimbreCLITests", dependencies: ["timbre", "TimbreTestSupport", "TimbreFormats", "TimbreAudio", "TimbreEval"]),
    ]
)
