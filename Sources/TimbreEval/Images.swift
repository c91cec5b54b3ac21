import CPNG
import Foundation
import TimbreDSP

/// PNG images through libpng's simplified API (errors come back as messages, no longjmp).
public enum PNGImage {
    /// Writes 8-bit RGB pixels (`width × height × 3`, rows top to bottom) to `path`.
    public static func writeRGB(_ pixels: [UInt8], width: Int, height: Int, to path: String) throws {
        precondition(pixels.count == width * height * 3)
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width); image.height = UInt32(height)
        image.format = UInt32(PNG_FORMAT_RGB)
        let tmp = path + ".tmp"
        let ok = pixels.withUnsafeBytes { png_image_write_to_file(&image, tmp, 0, $0.baseAddress, Int32(width * 3), nil) }
        defer { png_image_free(&image) }
        guard ok != 0 else {
            let msg = withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            throw EvalError.io(path, "libpng: \(msg)")
        }
        guard rename(tmp, path) == 0 else { throw EvalError.io(path, "cannot rename \(tmp): \(String(cString: strerror(errno)))") }
    }

    /// Reads a PNG's size (and checks it decodes) — used by tests and report checks.
    public static func size(_ path: String) throws -> (width: Int, height: Int) {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        guard png_image_begin_read_from_file(&image, path) != 0 else { throw EvalError.io(path, "not a PNG libpng can read") }
        defer { png_image_free(&image) }
        image.format = UInt32(PNG_FORMAT_RGB)
        var buf = [UInt8](repeating: 0, count: Int(image.width) * Int(image.height) * 3)
        guard buf.withUnsafeMutableBytes({ png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }) != 0 else {
            throw EvalError.io(path, "PNG does not decode")
        }
        return (Int(image.width), Int(image.height))
    }
}

/// Log-magnitude spectrogram images (1024-point STFT, hop 256, 0–22 kHz on a linear axis, 80 dB range).
public enum Spectrogram {
    /// A perceptually ordered dark-to-bright colour ramp (black → purple → orange → pale yellow).
    static let ramp: [(Double, Double, Double)] = [(0, 0, 4), (40, 11, 84), (101, 21, 110), (159, 42, 99),
                                                   (212, 72, 66), (245, 125, 21), (250, 193, 39), (252, 255, 164)]

    static func colour(_ v: Double) -> (UInt8, UInt8, UInt8) {
        let x = min(max(v, 0), 1) * Double(ramp.count - 1)
        let i = min(Int(x), ramp.count - 2), f = x - Double(i)
        let a = ramp[i], b = ramp[i + 1]
        return (UInt8(a.0 + (b.0 - a.0) * f), UInt8(a.1 + (b.1 - a.1) * f), UInt8(a.2 + (b.2 - a.2) * f))
    }

    /// Writes the spectrogram of `x` (44.1 kHz) as a PNG `height` pixels tall, one column per frame;
    /// `reference` is the level (max magnitude) mapped to the top of the range, so two images can share a scale.
    /// Returns the reference level used.
    @discardableResult
    public static func write(_ x: [Float], to path: String, height: Int = 256, reference: Float? = nil) throws -> Float {
        let st = STFT(nFFT: 1024, hop: 256)
        let mag = st.magnitude(x), K = st.bins, F = max(1, mag.count / K)
        let top = Double(reference ?? (mag.max() ?? 1))
        let floorDB = 20 * log10(max(top, 1e-9)) - 80
        var px = [UInt8](repeating: 0, count: F * height * 3)
        for f in 0..<(mag.count / K) {
            for r in 0..<height {
                let k0 = r * (K - 1) / height, k1 = max(k0 + 1, (r + 1) * (K - 1) / height)
                var m: Float = 0
                for k in k0..<k1 { m = max(m, mag[f * K + k]) }
                let db = 20 * log10(max(Double(m), 1e-9))
                let (cr, cg, cb) = colour((db - floorDB) / 80)
                let o = ((height - 1 - r) * F + f) * 3
                px[o] = cr; px[o + 1] = cg; px[o + 2] = cb
            }
        }
        try PNGImage.writeRGB(px, width: F, height: height, to: path)
        return Float(top)
    }
}

public enum EvalError: Error, CustomStringConvertible {
    case io(String, String)
    case invalid(String, String)
    public var description: String {
        switch self {
        case let .io(p, m): return "\(p): \(m)"
        case let .invalid(p, m): return "\(p): \(m)"
        }
    }
}
