import Foundation

/// What this CPU's vector units offer, read once from `/proc/cpuinfo` (the project is built with
/// `-target-cpu native`, so the compiler already uses whatever is there; this tells hand-written
/// kernels which register file they are tiled for).
public enum CPUFeatures {
    /// AVX-512F: 32 registers of 16 floats. Without it (AVX2: 16 registers of 8 floats) the
    /// kernels use their narrow tiles.
    public static let avx512: Bool = {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        return flags.split(separator: " ").contains("avx512f")
    }()
}
