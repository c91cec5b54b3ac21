import Foundation
import TimbreData
import TimbreFormats
import TimbreMPI
import TimbreTensor
import TimbreVAE

/// Preparing the MM-DiT's training data: a corpus encoded into latent shards.
extension VAEInference {
    /// Encodes every clip of a corpus into latent shards (`*.latent.h5`, one per audio shard, same
    /// split and metadata) with the per-channel mean and std over the whole corpus (docs/design.md §4).
    ///
    /// In a job of several ranks (`mpirun -np N timbre vae encode …`) rank r encodes the shards
    /// whose index is r modulo N and the statistics are summed over the ranks; rank 0 logs and
    /// writes the manifest.
    public static func encodeCorpus(_ vae: VAE<Float>, modelHash: String, corpus: String, out: String, ranks: Ranks = .single,
                                    log: (String) -> Void) throws -> LatentShardInfo {
        let m = try CorpusManifest.load(corpus)
        let log = ranks.isRoot ? log : { _ in }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let D = vae.config.latentChannels
        var encoded: [(file: String, latents: [[Float]], metas: [ClipMeta])] = []
        var sum = [Double](repeating: 0, count: D), sq = [Double](repeating: 0, count: D), frames = 0
        let t0 = Date()
        var clipsDone = 0, totalClips = m.shards.reduce(0) { $0 + $1.clips }
        for (k, s) in m.shards.enumerated() where k % ranks.size == ranks.rank {
            let shard = try AudioShard("\(corpus)/\(s.file)")
            var lats: [[Float]] = []
            for i in 0..<shard.count {
                let z = try encode(vae, try shard.clip(i), chunkFrames: 128)
                let F = z.count / D
                var rows = [Float](repeating: 0, count: F * D)  // [F, D] frame-major, as docs/design.md §4
                for d in 0..<D { for f in 0..<F { rows[f * D + d] = z[d * F + f]; sum[d] += Double(z[d * F + f]); sq[d] += Double(z[d * F + f] * z[d * F + f]) } }
                frames += F
                lats.append(rows)
                clipsDone += 1
                if clipsDone % 200 == 0 {
                    log(String(format: "  %d/%d clips, %.0f s", clipsDone * ranks.size, totalClips, Date().timeIntervalSince(t0)) + (ranks.isDistributed ? " (rank 0's count × \(ranks.size))" : ""))
                }
            }
            encoded.append((s.file.replacingOccurrences(of: ".audio.h5", with: ".latent.h5"), lats, shard.metas))
        }
        var counts = sum + sq + [Double(frames), Double(clipsDone), Double(encoded.count)]
        try ranks.sum(&counts)
        sum = Array(counts[0..<D]); sq = Array(counts[D..<(2 * D)])
        frames = Int(counts[2 * D]); totalClips = Int(counts[2 * D + 1])
        let shardCount = Int(counts[2 * D + 2])
        let mean = (0..<D).map { Float(sum[$0] / Double(max(frames, 1))) }
        let std = (0..<D).map { d -> Float in Float(max(1e-8, sq[d] / Double(max(frames, 1)) - Double(mean[d] * mean[d])).squareRoot()) }
        let info = LatentShardInfo(vaeCheckpoint: modelHash, hop: vae.hop, mean: mean, std: std)
        for e in encoded {
            try LatentShardWriter.write("\(out)/\(e.file)", latents: e.latents, dim: D, metas: e.metas, info: info)
        }
        try ranks.barrier()  // every shard written before rank 0 declares the set complete
        if ranks.isRoot {
            try FileIO.writeAtomically(try Data(contentsOf: URL(fileURLWithPath: "\(corpus)/manifest.json")), to: "\(out)/corpus-manifest.json")
        }
        log(String(format: "encoded %d clips (%d frames) into %d latent shards in %.1f s", totalClips, frames, shardCount, Date().timeIntervalSince(t0))
            + (ranks.isDistributed ? " on \(ranks.size) ranks" : ""))
        return info
    }
}
