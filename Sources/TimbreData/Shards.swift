import CHDF5
import Foundation
import TimbreAudio
import TimbreFormats

/// Per-clip metadata of a shard (docs/design.md §4). `attributes` is a JSON object (see `ClipAttributes`).
public struct ClipMeta: Codable, Sendable, Equatable {
    public var utterance_id: String
    public var speaker: String
    public var text: String
    public var description: String
    public var language: String
    /// Groups versions of one utterance (the clean original and its environment/pace variants).
    public var variant: String
    public var attributes: String

    public init(utterance_id: String, speaker: String, text: String, description: String, language: String,
                variant: String, attributes: String) {
        self.utterance_id = utterance_id; self.speaker = speaker; self.text = text; self.description = description
        self.language = language; self.variant = variant; self.attributes = attributes
    }

    static let datasets = ["utterance_id", "speaker", "text", "description", "language", "variant", "attributes"]
    func field(_ k: String) -> String {
        switch k {
        case "utterance_id": return utterance_id
        case "speaker": return speaker
        case "text": return text
        case "description": return description
        case "language": return language
        case "variant": return variant
        default: return attributes
        }
    }
}

func writeMetadata(_ f: H5File, _ metas: [ClipMeta]) throws {
    for k in ClipMeta.datasets { try f.writeStrings("/\(k)", metas.map { $0.field(k) }) }
}

func readMetadata(_ f: H5File, count: Int) throws -> [ClipMeta] {
    var cols: [String: [String]] = [:]
    for k in ClipMeta.datasets {
        let v = try f.dataset("/\(k)").readStrings()
        guard v.count == count else { throw DataError.invalid(f.path, "/\(k) has \(v.count) entries, expected \(count) (one per clip)") }
        cols[k] = v
    }
    return (0..<count).map { i in
        ClipMeta(utterance_id: cols["utterance_id"]![i], speaker: cols["speaker"]![i], text: cols["text"]![i],
                 description: cols["description"]![i], language: cols["language"]![i], variant: cols["variant"]![i],
                 attributes: cols["attributes"]![i])
    }
}

/// Checks an offsets array: starts at 0, never decreases, ends at `total`.
func checkOffsets(_ o: [Int], total: Int, name: String, file: String) throws {
    guard let first = o.first, first == 0 else { throw DataError.invalid(file, "\(name) must start at 0, starts at \(o.first.map(String.init) ?? "nothing")") }
    for i in 1..<o.count where o[i] < o[i - 1] {
        throw DataError.invalid(file, "\(name) is not monotonic: entry \(i) is \(o[i]) after \(o[i - 1])")
    }
    guard o.last == total else { throw DataError.invalid(file, "\(name) ends at \(o.last!) but the data holds \(total) rows") }
}

/// Writes an audio shard (`*.audio.h5`): clips are collected in memory as int16 (a shard is a few
/// hundred MB at most), then the file is written under a temporary name, flushed, fsync'ed and
/// renamed, so a failed build never leaves a half-written shard.
public final class AudioShardWriter {
    var audio: [Int16] = []
    var offsets: [Int64] = [0]
    var metas: [ClipMeta] = []
    public init() {}

    public var clipCount: Int { metas.count }
    public var seconds: Double { Double(audio.count) / Double(Audio.modelRate) }

    /// Adds a 44.1 kHz mono clip (clipped to ±1, stored as int16).
    public func add(_ samples: [Float], _ meta: ClipMeta) {
        audio.reserveCapacity(audio.count + samples.count)
        for s in samples { audio.append(Int16(max(-32768, min(32767, (s * 32768).rounded())))) }
        offsets.append(Int64(audio.count))
        metas.append(meta)
    }

    public func write(_ path: String) throws {
        try writeShardAtomically(path) { f in
            try f.write("/audio", audio, shape: [audio.count], fileType: timbre_H5T_STD_I16LE(), memType: timbre_H5T_NATIVE_INT16(), chunk: 1 << 16)
            try f.write("/offsets", offsets, shape: [offsets.count], fileType: timbre_H5T_STD_I64LE(), memType: timbre_H5T_NATIVE_INT64())
            try writeMetadata(f, metas)
            try f.setAttribute("format", "timbre.audio")
            try f.setAttribute("version", 1)
            try f.setAttribute("sample_rate", Audio.modelRate)
        }
    }
}

/// Writes an HDF5 file under a temporary name, closes and fsyncs it, and renames it to `path`;
/// on any error the temporary file is removed.
func writeShardAtomically(_ path: String, _ body: (H5File) throws -> Void) throws {
    let tmp = path + ".tmp-\(getpid())"
    do {
        let f = try H5File(create: tmp)
        try body(f)
        f.flush()
    } catch {
        unlink(tmp)
        throw error
    }
    let fd = open(tmp, O_RDONLY)
    if fd >= 0 { fsync(fd); close(fd) }
    guard rename(tmp, path) == 0 else { unlink(tmp); throw DataError.io(path, "cannot rename \(tmp): \(String(cString: strerror(errno)))") }
}

/// A validated audio shard. Clips are read on demand (a hyperslab of /audio), so shards far
/// larger than memory are fine. Safe to read from several threads (Debian's HDF5 is built
/// thread-safe and serialises calls).
public final class AudioShard: @unchecked Sendable {
    public let path: String
    public let offsets: [Int]
    public let metas: [ClipMeta]
    public let isInt16: Bool
    let file: H5File
    let audio: H5Dataset

    public var count: Int { metas.count }
    public var totalSamples: Int { offsets.last ?? 0 }
    public func length(_ i: Int) -> Int { offsets[i + 1] - offsets[i] }

    public init(_ path: String) throws {
        self.path = path
        file = try H5File(open: path)
        guard let fmt = file.attributeString("format") else { throw DataError.invalid(path, "no 'format' attribute: not a Timbre shard") }
        guard fmt == "timbre.audio" else { throw DataError.invalid(path, "format attribute is '\(fmt)', expected 'timbre.audio'") }
        guard let v = file.attributeNumbers("version")?.first, v == 1 else { throw DataError.invalid(path, "unsupported shard version (expected 1)") }
        guard let sr = file.attributeNumbers("sample_rate")?.first, Int(sr) == Audio.modelRate else {
            throw DataError.invalid(path, "sample_rate attribute must be \(Audio.modelRate)")
        }
        audio = try file.dataset("/audio")
        let (cls, size) = audio.storedType
        guard audio.shape.count == 1, (cls == H5T_INTEGER && size == 2) || (cls == H5T_FLOAT && size == 4) else {
            throw DataError.invalid(path, "/audio must be int16 or float32 [total_samples], is \(cls == H5T_FLOAT ? "float" : "integer") of \(size) bytes, shape \(audio.shape)")
        }
        isInt16 = cls == H5T_INTEGER
        let offsets64 = try file.dataset("/offsets").readAll(Int64.self, memType: timbre_H5T_NATIVE_INT64())
        offsets = offsets64.map { Int($0) }
        guard offsets.count >= 1 else { throw DataError.invalid(path, "/offsets is empty (needs N+1 entries)") }
        try checkOffsets(offsets, total: audio.shape[0], name: "/offsets", file: path)
        metas = try readMetadata(file, count: offsets.count - 1)
        if !isInt16 { try checkFinite() }
    }

    func checkFinite() throws {
        var pos = 0
        let total = totalSamples
        var buf = [Float](repeating: 0, count: 1 << 20)
        while pos < total {
            let n = min(buf.count, total - pos)
            try buf.withUnsafeMutableBytes { try audio.read($0.baseAddress!, memType: timbre_H5T_NATIVE_FLOAT(), start: pos, count: n) }
            if let i = buf.withUnsafeBufferPointer({ NonFinite.scan(UnsafeBufferPointer(rebasing: $0[0..<n]), limit: 1).first }) {
                throw DataError.invalid(path, "/audio sample \(pos + i) is \(buf[i]) (not finite)")
            }
            pos += n
        }
    }

    /// Samples [start, start + count) of clip `i` (zero-padded past its end), scaled to ±1.
    public func read(clip i: Int, from start: Int = 0, count: Int? = nil, into out: UnsafeMutablePointer<Float>) throws {
        let len = length(i), n = count ?? len
        let avail = max(0, min(n, len - start))
        if avail > 0 {
            if isInt16 {
                var tmp = [Int16](repeating: 0, count: avail)
                try tmp.withUnsafeMutableBytes { try audio.read($0.baseAddress!, memType: timbre_H5T_NATIVE_INT16(), start: offsets[i] + start, count: avail) }
                for k in 0..<avail { out[k] = Float(tmp[k]) * (1 / 32768) }
            } else {
                try audio.read(UnsafeMutableRawPointer(out), memType: timbre_H5T_NATIVE_FLOAT(), start: offsets[i] + start, count: avail)
            }
        }
        for k in avail..<n { out[k] = 0 }
    }

    public func clip(_ i: Int) throws -> [Float] {
        var out = [Float](repeating: 0, count: length(i))
        try out.withUnsafeMutableBufferPointer { try read(clip: i, into: $0.baseAddress!) }
        return out
    }
}

/// Latent shards (`*.latent.h5`): `/latents [frames, D]` float32, `/frame_offsets`, the same
/// metadata, and the statistics of the whole encoded dataset.
public struct LatentShardInfo: Sendable, Equatable {
    public var vaeCheckpoint: String
    public var hop: Int
    public var mean: [Float], std: [Float]
    public init(vaeCheckpoint: String, hop: Int, mean: [Float], std: [Float]) {
        self.vaeCheckpoint = vaeCheckpoint; self.hop = hop; self.mean = mean; self.std = std
    }
}

public enum LatentShardWriter {
    /// Writes clips' latents (`[frames_i, D]` each, row-major) atomically.
    public static func write(_ path: String, latents: [[Float]], dim: Int, metas: [ClipMeta], info: LatentShardInfo) throws {
        precondition(latents.count == metas.count && info.mean.count == dim && info.std.count == dim)
        var flat: [Float] = []
        var offsets: [Int64] = [0]
        for l in latents {
            precondition(l.count % dim == 0, "latents of a clip must be [frames, \(dim)]")
            flat += l
            offsets.append(offsets.last! + Int64(l.count / dim))
        }
        try writeShardAtomically(path) { f in
            try f.write("/latents", flat, shape: [flat.count / max(dim, 1), dim], fileType: timbre_H5T_IEEE_F32LE(),
                        memType: timbre_H5T_NATIVE_FLOAT(), chunk: 4096)
            try f.write("/frame_offsets", offsets, shape: [offsets.count], fileType: timbre_H5T_STD_I64LE(), memType: timbre_H5T_NATIVE_INT64())
            try writeMetadata(f, metas)
            try f.setAttribute("format", "timbre.latent")
            try f.setAttribute("version", 1)
            try f.setAttribute("vae_checkpoint", info.vaeCheckpoint)
            try f.setAttribute("hop", info.hop)
            try f.setAttribute("latent_mean", info.mean)
            try f.setAttribute("latent_std", info.std)
        }
    }
}

/// A validated latent shard, loaded whole (latents are ~2000× smaller than audio).
public final class LatentShard: @unchecked Sendable {
    public let path: String
    public let info: LatentShardInfo
    public let dim: Int
    public let frameOffsets: [Int]
    public let metas: [ClipMeta]
    public let latents: [Float]
    public var count: Int { metas.count }
    public func frames(_ i: Int) -> Int { frameOffsets[i + 1] - frameOffsets[i] }
    /// Clip i's latents, `[frames, D]` row-major.
    public func clip(_ i: Int) -> ArraySlice<Float> { latents[(frameOffsets[i] * dim)..<(frameOffsets[i + 1] * dim)] }

    public init(_ path: String) throws {
        self.path = path
        let f = try H5File(open: path)
        guard let fmt = f.attributeString("format") else { throw DataError.invalid(path, "no 'format' attribute: not a Timbre shard") }
        guard fmt == "timbre.latent" else { throw DataError.invalid(path, "format attribute is '\(fmt)', expected 'timbre.latent'") }
        guard let ck = f.attributeString("vae_checkpoint"), let hop = f.attributeNumbers("hop")?.first,
              let mean = f.attributeNumbers("latent_mean"), let std = f.attributeNumbers("latent_std") else {
            throw DataError.invalid(path, "missing one of the attributes vae_checkpoint, hop, latent_mean, latent_std")
        }
        let ds = try f.dataset("/latents")
        guard ds.shape.count == 2, ds.shape[1] == mean.count, std.count == mean.count else {
            throw DataError.invalid(path, "/latents has shape \(ds.shape); latent_mean has \(mean.count) and latent_std \(std.count) entries")
        }
        dim = ds.shape[1]
        info = LatentShardInfo(vaeCheckpoint: ck, hop: Int(hop), mean: mean.map(Float.init), std: std.map(Float.init))
        frameOffsets = try f.dataset("/frame_offsets").readAll(Int64.self, memType: timbre_H5T_NATIVE_INT64()).map { Int($0) }
        guard !frameOffsets.isEmpty else { throw DataError.invalid(path, "/frame_offsets is empty") }
        try checkOffsets(frameOffsets, total: ds.shape[0], name: "/frame_offsets", file: path)
        latents = try ds.readAll(Float.self, memType: timbre_H5T_NATIVE_FLOAT())
        if let i = latents.firstIndex(where: { !$0.isFinite }) {
            throw DataError.invalid(path, "/latents value \(i / dim), channel \(i % dim) is \(latents[i]) (not finite)")
        }
        guard info.std.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw DataError.invalid(path, "latent_std must be positive and finite") }
        metas = try readMetadata(f, count: frameOffsets.count - 1)
    }
}
