import COpenSSL
import Foundation

/// Streaming SHA-256 through OpenSSL's EVP interface (uses the CPU's SHA extensions where present).
public final class SHA256 {
    let ctx: OpaquePointer
    public init() {
        ctx = EVP_MD_CTX_new()
        EVP_DigestInit_ex(ctx, EVP_sha256(), nil)
    }
    deinit { EVP_MD_CTX_free(ctx) }

    public func update(_ p: UnsafeRawPointer, _ count: Int) { EVP_DigestUpdate(ctx, p, count) }
    public func update(_ d: Data) { d.withUnsafeBytes { if let b = $0.baseAddress { update(b, $0.count) } } }

    /// The digest as lowercase hex (the form `sha256sum` prints).
    public func finalHex() -> String {
        var out = [UInt8](repeating: 0, count: 32)
        var n: UInt32 = 0
        EVP_DigestFinal_ex(ctx, &out, &n)
        return out.map { String(format: "%02x", $0) }.joined()
    }

    public static func hex(of data: Data) -> String { let h = SHA256(); h.update(data); return h.finalHex() }

    /// SHA-256 of a file's bytes, read in 8 MiB blocks.
    public static func hex(ofFile path: String) throws -> String {
        guard let fh = FileHandle(forReadingAtPath: path) else { throw FormatError.io(path, "cannot open for reading") }
        defer { try? fh.close() }
        let h = SHA256()
        while let block = try fh.read(upToCount: 8 << 20), !block.isEmpty { h.update(block) }
        return h.finalHex()
    }
}
