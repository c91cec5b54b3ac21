import Foundation

/// Durable file writes: plain POSIX I/O with fsync, and renames whose directory entry is
/// fsync'ed too. Everything Timbre saves goes through here.
public enum FileIO {
    public final class Output {
        let fd: Int32
        let path: String
        init(fd: Int32, path: String) { self.fd = fd; self.path = path }

        /// Writes all of `buf` (looping over partial writes), updating `hash` if given.
        public func write(_ buf: UnsafeRawBufferPointer, hash: SHA256? = nil) throws {
            guard var p = buf.baseAddress else { return }
            var left = buf.count
            hash?.update(p, left)
            while left > 0 {
                let n = Foundation.write(fd, p, min(left, 1 << 30))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FormatError.io(path, "write failed: \(String(cString: strerror(errno)))")
                }
                p += n; left -= n
            }
        }
        public func write(_ d: Data, hash: SHA256? = nil) throws { try d.withUnsafeBytes { try write($0, hash: hash) } }
    }

    /// Creates (truncates) `path`, lets `body` write it, then fsyncs and closes it. On error the
    /// partial file is removed.
    public static func writeFile(_ path: String, _ body: (Output) throws -> Void) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw FormatError.io(path, "cannot create: \(String(cString: strerror(errno)))") }
        do {
            try body(Output(fd: fd, path: path))
            guard fsync(fd) == 0 else { throw FormatError.io(path, "fsync failed: \(String(cString: strerror(errno)))") }
            close(fd)
        } catch {
            close(fd)
            unlink(path)
            throw error
        }
    }

    /// Writes `data` to `path` atomically (temporary file, fsync, rename, fsync of the directory).
    public static func writeAtomically(_ data: Data, to path: String) throws {
        let tmp = path + ".tmp-\(getpid())"
        try writeFile(tmp) { try $0.write(data) }
        try rename(tmp, path)
    }

    /// rename(2) then fsync of the destination's directory.
    public static func rename(_ from: String, _ to: String) throws {
        guard Foundation.rename(from, to) == 0 else {
            throw FormatError.io(to, "cannot rename \(from) to it: \(String(cString: strerror(errno)))")
        }
        syncDirectory(of: to)
    }

    public static func syncDirectory(of path: String) {
        let dir = (path as NSString).deletingLastPathComponent
        let fd = open(dir.isEmpty ? "." : dir, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
    }
}

/// Paths a data file names, kept inside the folder they belong to.
public enum ConfinedPath {
    /// `name` (relative to `dir`, or absolute) as a path inside `dir`, or nil when it resolves
    /// outside it (`..` components, an absolute path elsewhere, a symbolic link leading out).
    public static func resolve(_ name: String, under dir: String) -> String? {
        guard !name.isEmpty, !name.contains("\0") else { return nil }
        let base = URL(fileURLWithPath: dir).standardizedFileURL.resolvingSymlinksInPath().path
        let joined = name.hasPrefix("/") ? URL(fileURLWithPath: name) : URL(fileURLWithPath: dir).appendingPathComponent(name)
        let resolved = joined.standardizedFileURL.resolvingSymlinksInPath().path
        return resolved.hasPrefix(base == "/" ? "/" : base + "/") ? resolved : nil
    }
}
