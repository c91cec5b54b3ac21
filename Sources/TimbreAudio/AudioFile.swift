import CSndFile
import Foundation
import TimbreFormats

/// Errors about audio files, naming the file.
public enum AudioError: Error, CustomStringConvertible {
    case cannotOpen(String, String)
    case readFailed(String, String)
    case writeFailed(String, String)
    case resample(String)
    /// A NaN or infinite sample: the file, the sample's index and its value.
    case nonFinite(String, index: Int, sampleRate: Int, value: Float)
    public var description: String {
        switch self {
        case .cannotOpen(let f, let m): return "\(f): cannot open audio: \(m)"
        case .readFailed(let f, let m): return "\(f): cannot read audio: \(m)"
        case .writeFailed(let f, let m): return "\(f): cannot write audio: \(m)"
        case .resample(let m): return "resampling failed: \(m)"
        case .nonFinite(let f, let i, let rate, let v):
            return "\(f): sample \(i) (at \(String(format: "%.6f", Double(i) / Double(max(rate, 1)))) s) is \(v.isNaN ? "NaN" : "\(v)"); audio must be finite"
        }
    }
}

/// Mono audio: samples in [-1, 1] (not enforced) at a sample rate.
public struct Audio: Sendable {
    public var samples: [Float]
    public var sampleRate: Int
    /// Channels and rate of the file it was read from (before the mix-down), when read.
    public var sourceChannels = 1
    public init(samples: [Float], sampleRate: Int) { self.samples = samples; self.sampleRate = sampleRate }
    /// The rate every shard, model and measure in Timbre works at; other rates are resampled to it.
    public static let modelRate = 44100
    public var seconds: Double { Double(samples.count) / Double(sampleRate) }
}

public enum AudioFormat: Sendable {
    case wav16, wav24, wavFloat, flac16, flac24
    var sndfile: Int32 {
        switch self {
        case .wav16: return Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_16)
        case .wav24: return Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_24)
        case .wavFloat: return Int32(SF_FORMAT_WAV | SF_FORMAT_FLOAT)
        case .flac16: return Int32(SF_FORMAT_FLAC | SF_FORMAT_PCM_16)
        case .flac24: return Int32(SF_FORMAT_FLAC | SF_FORMAT_PCM_24)
        }
    }
    /// From a file name's extension: .flac → FLAC 16-bit, anything else → 16-bit WAV.
    public static func forPath(_ path: String) -> AudioFormat { path.lowercased().hasSuffix(".flac") ? .flac16 : .wav16 }
}

/// Reading and writing through libsndfile (WAV, FLAC, OGG/Vorbis and everything else it knows).
public enum AudioFile {
    /// Reads any file libsndfile opens, mixing channels down to mono by averaging.
    public static func read(_ path: String) throws -> Audio {
        var info = SF_INFO()
        guard let f = sf_open(path, Int32(SFM_READ), &info) else {
            throw AudioError.cannotOpen(path, String(cString: sf_strerror(nil)))
        }
        defer { sf_close(f) }
        // libsndfile reads a WAV whose data chunk is cut short without complaint, shortening the
        // frame count; its log says "data : N (should be M)". A truncated file is an error.
        var log = [CChar](repeating: 0, count: 4096)
        sf_command(f, Int32(SFC_GET_LOG_INFO), &log, Int32(log.count))
        let logText = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        for line in logText.split(separator: "\n") where line.hasPrefix("data") && line.contains("should be") {
            throw AudioError.readFailed(path, "truncated: the header declares more audio than the file holds (\(line.trimmingCharacters(in: .whitespaces)))")
        }
        let ch = Int(info.channels), frames = Int(info.frames)
        guard (1...1024).contains(ch), (1...1_000_000).contains(info.samplerate) else { throw AudioError.readFailed(path, "\(ch) channels at \(info.samplerate) Hz") }
        // A header can claim any length: more than 2^31 samples (8 GiB as floats, 13.5 hours at
        // 44.1 kHz) is refused before anything is allocated.
        guard frames >= 0, frames <= (1 << 31) / ch else {
            throw AudioError.readFailed(path, "the header declares \(frames) frames × \(ch) channels; at most \(1 << 31) samples are read")
        }
        var inter = [Float](repeating: 0, count: frames * ch)
        var got = 0
        inter.withUnsafeMutableBufferPointer { b in
            while got < frames {
                let n = Int(sf_readf_float(f, b.baseAddress! + got * ch, sf_count_t(frames - got)))
                if n <= 0 { break }
                got += n
            }
        }
        if got < frames {
            throw AudioError.readFailed(path, "file ends after \(got) of \(frames) frames (truncated?): \(String(cString: sf_strerror(f)))")
        }
        var mono: [Float]
        if ch == 1 {
            mono = inter
        } else {
            mono = [Float](repeating: 0, count: frames)
            let inv = 1 / Float(ch)
            for i in 0..<frames {
                var s: Float = 0
                for c in 0..<ch { s += inter[i * ch + c] }
                mono[i] = s * inv
            }
        }
        if let i = NonFinite.first(mono) {
            // A NaN or infinity in any channel makes the mix non-finite too; name the first.
            throw AudioError.nonFinite(path, index: i, sampleRate: Int(info.samplerate), value: mono[i])
        }
        var a = Audio(samples: mono, sampleRate: Int(info.samplerate))
        a.sourceChannels = ch
        return a
    }

    /// Writes mono audio; samples beyond ±1 are clipped (libsndfile's clipping mode: without it
    /// FLAC silently wrote zeros). Written to a temporary name and renamed. A NaN or
    /// infinite sample is an error and nothing is written (clipping would turn it into full scale).
    public static func write(_ audio: Audio, to path: String, format: AudioFormat? = nil) throws {
        if let i = NonFinite.first(audio.samples) {
            throw AudioError.writeFailed(path, "sample \(i) (at \(String(format: "%.6f", Double(i) / Double(max(audio.sampleRate, 1)))) s) is \(audio.samples[i].isNaN ? "NaN" : "\(audio.samples[i])"); nothing written")
        }
        guard audio.sampleRate > 0 else { throw AudioError.writeFailed(path, "sample rate \(audio.sampleRate) Hz") }
        var info = SF_INFO()
        info.samplerate = Int32(audio.sampleRate)
        info.channels = 1
        info.format = (format ?? AudioFormat.forPath(path)).sndfile
        let tmp = path + ".tmp-\(getpid())"
        guard let f = sf_open(tmp, Int32(SFM_WRITE), &info) else {
            throw AudioError.writeFailed(path, String(cString: sf_strerror(nil)))
        }
        sf_command(f, Int32(SFC_SET_CLIPPING), nil, Int32(SF_TRUE))
        let n = audio.samples.withUnsafeBufferPointer { sf_writef_float(f, $0.baseAddress, sf_count_t($0.count)) }
        let err = sf_error(f)
        sf_close(f)
        guard Int(n) == audio.samples.count, err == 0 else {
            unlink(tmp)
            throw AudioError.writeFailed(path, "wrote \(n) of \(audio.samples.count) samples")
        }
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw AudioError.writeFailed(path, String(cString: strerror(errno)))
        }
    }

    public static var libraryVersion: String { String(cString: sf_version_string()) }
}
