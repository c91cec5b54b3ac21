import CMPI
import Foundation

/// The processes of one job and the collective operations data-parallel training needs
/// (docs/distributed.md). A process started by an MPI launcher (`mpirun`, `mpiexec`, `srun`)
/// joins MPI's world on first use of `Ranks.world`; any other process is a world of one, and
/// every operation is then a no-op that never touches MPI.
///
/// Only the main thread calls MPI (`MPI_THREAD_FUNNELED`). Errors come back as `MPIError`; a rank
/// that cannot go on ends the whole job with `abort(code:)` rather than leaving the others
/// waiting in a collective.
public final class Ranks: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// Whether this process is part of an MPI job (even one of a single rank).
    public let usesMPI: Bool

    /// Collectives move at most this many elements per MPI call (MPI counts are 32-bit).
    nonisolated(unsafe) public static var chunkElements = 1 << 24

    init(rank: Int, size: Int, usesMPI: Bool) { self.rank = rank; self.size = size; self.usesMPI = usesMPI }

    /// A world of one process that never calls MPI.
    public static let single = Ranks(rank: 0, size: 1, usesMPI: false)

    public var isRoot: Bool { rank == 0 }
    public var isDistributed: Bool { size > 1 }

    /// The environment variables MPI launchers set in every process they start (Open MPI's
    /// mpirun, MPICH's Hydra, PMIx launchers such as Slurm's srun).
    static let launcherVariables = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK", "PMIX_RANK"]

    public static var launchedByMPI: Bool {
        let env = ProcessInfo.processInfo.environment
        return launcherVariables.contains { env[$0] != nil }
    }

    nonisolated(unsafe) static var initialised = false
    /// Whether this process has joined an MPI job (and must `finish` or `abort`).
    public static var joined: Bool { initialised }

    /// This process's job. Under an MPI launcher the first use calls `MPI_Init_thread`; a failure
    /// there is fatal (the job cannot run) and is printed before exiting with status 1.
    public static let world: Ranks = {
        guard launchedByMPI else { return .single }
        let code = timbre_mpi_init()
        guard code == MPI_SUCCESS else {
            FileHandle.standardError.write(Data("Error: MPI_Init_thread failed: \(MPIError.message(code))\n".utf8))
            exit(1)
        }
        initialised = true
        return Ranks(rank: Int(timbre_mpi_rank()), size: Int(timbre_mpi_size()), usesMPI: true)
    }()

    /// The MPI library's own description (`MPI_Get_library_version`), callable without a job.
    public static var libraryVersion: String {
        var buffer = [CChar](repeating: 0, count: Int(TIMBRE_MPI_MAX_LIBRARY_VERSION_STRING) + 1)
        let text = buffer.withUnsafeMutableBufferPointer { String(cString: timbre_mpi_library_version($0.baseAddress!)) }
        return text.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? text
    }

    /// Ends this process's part of the job normally (`MPI_Finalize`); a no-op outside MPI.
    public static func finish() {
        guard initialised else { return }
        initialised = false
        _ = timbre_mpi_finalize()
    }

    /// Ends the whole job: every rank exits with `code` (`MPI_Abort`). Outside MPI, exits this process.
    public static func abort(code: Int32) -> Never {
        if initialised { _ = timbre_mpi_abort(code) }
        exit(code)
    }

    func check(_ code: Int32, _ call: String) throws {
        if code != MPI_SUCCESS { throw MPIError(call: call, rank: rank, code: code) }
    }

    /// `x[0..<count] ←` its sum over all ranks (`MPI_Allreduce`, in place, in chunks). Every rank
    /// ends with the same values.
    public func sum(_ x: UnsafeMutablePointer<Float>, count: Int) throws {
        guard usesMPI && size > 1 else { return }
        var start = 0
        while start < count {
            let n = min(Self.chunkElements, count - start)
            try check(timbre_mpi_allreduce_sum_float(x + start, Int32(n)), "MPI_Allreduce(MPI_SUM, \(n) floats)")
            start += n
        }
    }

    /// `x ←` its element-wise sum over all ranks.
    public func sum(_ x: inout [Double]) throws {
        guard usesMPI && size > 1, !x.isEmpty else { return }
        let n = x.count
        try x.withUnsafeMutableBufferPointer { try check(timbre_mpi_allreduce_sum_double($0.baseAddress!, Int32(n)), "MPI_Allreduce(MPI_SUM, \(n) doubles)") }
    }

    /// `x ←` its element-wise maximum over all ranks.
    public func maximum(_ x: inout [Double]) throws {
        guard usesMPI && size > 1, !x.isEmpty else { return }
        let n = x.count
        try x.withUnsafeMutableBufferPointer { try check(timbre_mpi_allreduce_max_double($0.baseAddress!, Int32(n)), "MPI_Allreduce(MPI_MAX, \(n) doubles)") }
    }

    /// Copies `bytes` bytes at `x` from rank `root` to every rank (`MPI_Bcast`, in chunks).
    public func broadcast(_ x: UnsafeMutableRawPointer, bytes: Int, from root: Int = 0) throws {
        guard usesMPI && size > 1 else { return }
        var start = 0
        let chunk = Self.chunkElements * 4
        while start < bytes {
            let n = min(chunk, bytes - start)
            try check(timbre_mpi_bcast_bytes(x + start, Int32(n), Int32(root)), "MPI_Bcast(\(n) bytes)")
            start += n
        }
    }

    /// Rank `root`'s `text` on every rank.
    public func broadcast(_ text: String, from root: Int = 0) throws -> String {
        guard usesMPI && size > 1 else { return text }
        var length = [Double(rank == root ? text.utf8.count : 0)]
        try maximum(&length)
        var bytes = [UInt8](repeating: 0, count: Int(length[0]))
        if rank == root { bytes = Array(text.utf8) }
        if !bytes.isEmpty { try bytes.withUnsafeMutableBytes { try broadcast($0.baseAddress!, bytes: $0.count, from: root) } }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Every rank's `values` (the same count on each) at rank 0, in rank order; empty elsewhere.
    public func gather(_ values: [Double]) throws -> [[Double]] {
        guard usesMPI && size > 1 else { return [values] }
        var all = [Double](repeating: 0, count: values.count * (isRoot ? size : 1))
        let bytes = values.count * 8
        try values.withUnsafeBytes { send in
            try all.withUnsafeMutableBytes { recv in
                try check(timbre_mpi_gather_bytes(send.baseAddress!, Int32(bytes), recv.baseAddress!, 0), "MPI_Gather(\(bytes) bytes)")
            }
        }
        guard isRoot else { return [] }
        return (0..<size).map { Array(all[($0 * values.count)..<(($0 + 1) * values.count)]) }
    }

    /// Every rank's `bytes` at rank 0, in rank order (`MPI_Gatherv`); empty elsewhere.
    public func gather(_ bytes: Data) throws -> [Data] {
        guard usesMPI && size > 1 else { return [bytes] }
        guard bytes.count < Int(Int32.max) else { throw MPIError(call: "gather of \(bytes.count) bytes (over 2 GiB)", rank: rank, code: MPI_ERR_COUNT) }
        let counts = try gather([Double(bytes.count)]).map { Int($0[0]) }
        let total = counts.reduce(0, +)
        guard !isRoot || total < Int(Int32.max) else { throw MPIError(call: "gather of \(total) bytes in all (over 2 GiB)", rank: rank, code: MPI_ERR_COUNT) }
        var recv = Data(count: isRoot ? max(total, 1) : 1)
        let c32 = counts.map { Int32($0) }
        let displs = counts.indices.map { Int32(counts[..<$0].reduce(0, +)) }
        let send = bytes.isEmpty ? Data(count: 1) : bytes
        try send.withUnsafeBytes { s in
            try recv.withUnsafeMutableBytes { r in
                try check(timbre_mpi_gatherv_bytes(s.baseAddress!, Int32(bytes.count), r.baseAddress!, c32, displs, 0), "MPI_Gatherv(\(bytes.count) bytes)")
            }
        }
        guard isRoot else { return [] }
        return counts.indices.map { recv.subdata(in: Int(displs[$0])..<(Int(displs[$0]) + counts[$0])) }
    }

    /// `body(k)` for k in 0..<count shared between the ranks (rank r takes the k with
    /// k mod N = r); rank 0 returns all the results in order, the other ranks an empty array.
    /// A process outside MPI runs them all.
    public func map<T: Codable>(_ count: Int, _ body: (Int) throws -> T) throws -> [T] {
        let mine = try stride(from: rank, to: count, by: size).map { ($0, try body($0)) }
        guard usesMPI && size > 1 else { return mine.map(\.1) }
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let parts = try gather(try encoder.encode(mine.map { Indexed(index: $0.0, value: $0.1) }))
        guard isRoot else { return [] }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var out = [T?](repeating: nil, count: count)
        for p in parts { for item in try decoder.decode([Indexed<T>].self, from: p) { out[item.index] = item.value } }
        return out.map { $0! }
    }

    struct Indexed<T: Codable>: Codable { var index: Int; var value: T }

    /// Waits for every rank.
    public func barrier() throws {
        guard usesMPI && size > 1 else { return }
        try check(timbre_mpi_barrier(), "MPI_Barrier")
    }

    /// MPI's wall clock in seconds (monotonic time outside MPI).
    public func wallTime() -> Double {
        usesMPI ? timbre_mpi_wtime() : Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }
}

/// A failed MPI call: which call, on which rank, and MPI's words for the error.
public struct MPIError: Error, CustomStringConvertible {
    public let call: String, rank: Int, code: Int32
    public var description: String { "rank \(rank): \(call) failed: \(Self.message(code))" }

    static func message(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(TIMBRE_MPI_MAX_ERROR_STRING) + 1)
        return buffer.withUnsafeMutableBufferPointer { String(cString: timbre_mpi_error_string(code, $0.baseAddress!)) }
    }
}
