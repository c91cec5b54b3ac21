import ArgumentParser
import Foundation
import TimbreMPI
@preconcurrency import CMalloc
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

@main
struct Timbre: ParsableCommand {
    static let version = "0.1.0"
    static let configuration = CommandConfiguration(
        commandName: "timbre",
        abstract: "Train and evaluate a waveform VAE and a multimodal flow-matching voice generator.",
        discussion: """
            Timbre trains its models with hand-written forward and backward passes on OpenBLAS. \
            Start with `timbre doctor` to check this machine's BLAS, `timbre selfcheck` to prove \
            every layer's gradients, and `timbre bench layers` to see how fast they run.
            """,
        version: version,
        subcommands: [Doctor.self, SelfCheck.self, Corpus.self, Train.self, VAECommand.self, Generate.self, Eval.self, ReportIndexCommand.self, Compare.self, Export.self, Inspect.self, Debug.self, BenchCommand.self])

    /// Line-buffered stdout, so progress reaches a log file or pipe as it happens.
    static func main() {
        setvbuf(stdout, nil, _IOLBF, 0)
        // Keep freed activations (up to 32 MiB each, 1 GiB in all) in the heap for reuse: glibc
        // otherwise hands large blocks back to the kernel, and every fresh page then costs a
        // fault and a zeroing (a one-shot 10 s decode spent most of its time on that).
        mallopt(M_MMAP_THRESHOLD, 32 << 20)
        mallopt(M_TRIM_THRESHOLD, 1 << 30)
        do {
            var command = try parseAsRoot()
            try command.run()
            Ranks.finish()
        } catch {
            let e = readable(error)
            // Under MPI a rank that fails ends the whole job, so that no rank waits forever in a
            // collective for it.
            if Ranks.joined {
                let rank = Ranks.world.isDistributed ? "rank \(Ranks.world.rank): " : ""
                FileHandle.standardError.write(Data("Error: \(rank)\(fullMessage(for: e))\n".utf8))
                Ranks.abort(code: exitCode(for: e).rawValue)
            }
            exit(withError: e)
        }
    }

    /// Foundation's file errors print as "Error Domain=NSCocoaErrorDomain Code=4 …": say which
    /// path and what the system said instead, as Timbre's own errors do.
    static func readable(_ error: Error) -> Error {
        let ns = error as NSError
        guard ns.domain == NSCocoaErrorDomain else { return error }
        let path = ns.userInfo[NSFilePathErrorKey] as? String ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path ?? "(a file)"
        var reason = ns.localizedDescription
        if let u = (ns.userInfo[NSUnderlyingErrorKey] as? Error).map({ $0 as NSError }), u.domain == NSPOSIXErrorDomain {
            reason = String(cString: strerror(Int32(u.code))).lowercased()
        } else if ns.code == CocoaError.fileWriteFileExists.rawValue {
            reason = "already exists"
        } else if ns.code == CocoaError.fileNoSuchFile.rawValue || ns.code == CocoaError.fileReadNoSuchFile.rawValue {
            reason = "no such file or directory (does its folder exist?)"
        }
        return InputError("\(path): \(reason)")
    }
}
