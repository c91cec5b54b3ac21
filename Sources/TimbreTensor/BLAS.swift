import COpenBLAS
import Foundation

/// OpenBLAS threading and identification. Layers that parallelise over their own work items
/// (convolutions, attention) call BLAS from several threads at once; they run inside
/// `BLAS.singleThreaded` so OpenBLAS does not also spawn threads.
public enum BLAS {
    public static var threads: Int { Int(openblas_get_num_threads()) }
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }

    /// Runs `body` with OpenBLAS restricted to one thread, then restores the previous count.
    @inlinable
    public static func singleThreaded<R>(_ body: () throws -> R) rethrows -> R {
        let before = openblas_get_num_threads()
        if before != 1 { openblas_set_num_threads(1) }
        defer { if before != 1 { openblas_set_num_threads(before) } }
        return try body()
    }

    /// The kernel OpenBLAS selected for this CPU (e.g. "Haswell", "SkylakeX", "Zen").
    public static var coreName: String { String(cString: openblas_get_corename()) }
    public static var config: String { String(cString: openblas_get_config()) }
}
