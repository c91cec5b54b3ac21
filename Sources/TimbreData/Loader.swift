import Foundation
import TimbreAudio
import TimbreTensor

/// A corpus split opened for training: its shards and a flat index of clips.
public final class CorpusSplit: @unchecked Sendable {
    public let dir: String
    public let split: String
    public let shards: [AudioShard]
    /// (shard, index in shard) of every clip, in manifest order.
    public let clips: [(shard: Int, index: Int)]

    /// `maxClips` keeps only the first clips (e.g. to overfit a few).
    public init(dir: String, split: String = "train", maxClips: Int? = nil) throws {
        let m = try CorpusManifest.load(dir)
        self.dir = dir; self.split = split
        shards = try m.shards.filter { $0.split == split }.map { try AudioShard("\(dir)/\($0.file)") }
        var c: [(Int, Int)] = []
        for (s, sh) in shards.enumerated() { for i in 0..<sh.count { c.append((s, i)) } }
        guard !c.isEmpty else { throw DataError.invalid(dir, "split '\(split)' has no clips") }
        clips = Array(c.prefix(maxClips ?? c.count))
    }

    public var count: Int { clips.count }
    public func meta(_ i: Int) -> ClipMeta { shards[clips[i].shard].metas[clips[i].index] }
    public func length(_ i: Int) -> Int { shards[clips[i].shard].length(clips[i].index) }
    public func read(_ i: Int, from: Int, count: Int, into p: UnsafeMutablePointer<Float>) throws {
        try shards[clips[i].shard].read(clip: clips[i].index, from: from, count: count, into: p)
    }
    /// Clip `i`'s first `seconds` (all of it when shorter), at 44.1 kHz.
    public func head(_ i: Int, seconds: Double) throws -> [Float] {
        let n = min(length(i), Int(seconds * Double(Audio.modelRate)))
        var x = [Float](repeating: 0, count: n)
        try x.withUnsafeMutableBufferPointer { try read(i, from: 0, count: n, into: $0.baseAddress!) }
        return x
    }
}

/// Epoch-wise shuffled order of `n` items: epoch e is a permutation drawn from (seed, e), and
/// item k of the endless sequence is `order(epoch: k / n)[k % n]`. Every position is a pure function
/// of (seed, k), so a batch can be rebuilt anywhere (prefetch thread, resumed run).
public struct EpochOrder: Sendable {
    public let count: Int, seed: UInt64
    public init(count: Int, seed: UInt64) { self.count = count; self.seed = seed }
    public func permutation(epoch: Int) -> [Int] {
        var p = Array(0..<count)
        var r = RandomStream(seed: seed, UInt64(epoch), 0x5E)
        r.shuffle(&p)
        return p
    }
}

/// Random fixed-length crops for the VAE (docs/design.md §2): batch b holds examples b·B … b·B+B−1 of the
/// epoch-shuffled clip sequence, each a crop of `length` samples (a multiple of the hop) at a
/// random offset (zero-padded when the clip is shorter). A background thread prepares the next
/// `prefetch` batches while the caller trains. The cursor is the batch number.
public final class CropLoader: @unchecked Sendable {
    public let split: CorpusSplit
    public let batchSize: Int, length: Int
    let order: EpochOrder
    let seed: UInt64
    let prefetchDepth: Int
    private let lock = NSCondition()
    private var ready: [Int: Result<Tensor<Float>, Error>] = [:]
    private var wanted = 0
    private var layout = (local: 1, job: 1)
    private var stopped = false
    private var thread: Thread?

    public init(split: CorpusSplit, batchSize: Int, length: Int, hop: Int = 1, seed: UInt64, prefetch: Int = 4) throws {
        guard length > 0, length % hop == 0 else {
            throw DataError.invalid(split.dir, "crop length \(length) must be a positive multiple of the hop \(hop)")
        }
        self.split = split; self.batchSize = batchSize; self.length = length; self.seed = seed
        order = EpochOrder(count: split.count, seed: seed)
        prefetchDepth = prefetch
    }

    deinit { stop() }

    /// (epoch, position) of the first example of batch `b`.
    public func cursor(batch b: Int) -> [String: Int] {
        let k = b * batchSize
        return ["batch": b, "epoch": k / split.count, "position": k % split.count]
    }

    /// Builds batch `b` (`[B, 1, length]`) on the calling thread.
    public func make(batch b: Int) throws -> Tensor<Float> {
        let t = Tensor<Float>(zeros: [batchSize, 1, length])
        var epoch = -1
        var perm: [Int] = []
        for i in 0..<batchSize {
            let k = b * batchSize + i
            if k / split.count != epoch { epoch = k / split.count; perm = order.permutation(epoch: epoch) }
            let clip = perm[k % split.count]
            var r = RandomStream(seed: seed, UInt64(k), 0xC809)
            let len = split.length(clip)
            let start = len > length ? r.int(below: len - length + 1) : 0
            try split.read(clip, from: start, count: length, into: t.data + i * length)
        }
        return t
    }

    /// Batch `b`, from the prefetch queue when the thread has it ready. Starts the thread on
    /// first use; asking for batches in order keeps it `prefetch` batches ahead.
    public func batch(_ b: Int) throws -> Tensor<Float> {
        if prefetchDepth == 0 { return try make(batch: b) }
        lock.lock()
        wanted = b
        if thread == nil {
            let th = Thread { [weak self] in self?.prefetchLoop() }
            th.name = "timbre-prefetch"
            thread = th
            th.start()
        }
        lock.broadcast()
        if let t = ready.removeValue(forKey: b) { lock.unlock(); return try t.get() }
        lock.unlock()
        return try make(batch: b)
    }

    func prefetchLoop() {
        while true {
            lock.lock()
            while !stopped && upcoming(wanted).allSatisfy({ ready[$0] != nil }) { lock.wait() }
            if stopped { lock.unlock(); return }
            ready = ready.filter { $0.key > wanted }
            let next = upcoming(wanted).first { ready[$0] == nil }!
            lock.unlock()
            let t = Result { try make(batch: next) }
            lock.lock()
            if next > wanted { ready[next] = t }
            lock.unlock()
        }
    }

    /// How this process walks the batches (`train` under MPI): `local` consecutive micro-batches
    /// of every `job` (its rank's share of each step), so the prefetch thread prepares the batches
    /// this rank will ask for and not the other ranks'. (1, 1) in a single process.
    public var rankLayout: (local: Int, job: Int) {
        get { lock.lock(); defer { lock.unlock() }; return layout }
        set { lock.lock(); layout = newValue; lock.unlock() }
    }

    /// The batch this process asks for after batch `b`.
    func following(_ b: Int) -> Int {
        (b % layout.job + 1) % layout.local == 0 ? b + 1 + layout.job - layout.local : b + 1
    }

    /// The `prefetchDepth` batches this process asks for after batch `b`.
    func upcoming(_ b: Int) -> [Int] {
        var out: [Int] = [], k = b
        for _ in 0..<prefetchDepth { k = following(k); out.append(k) }
        return out
    }

    public func stop() {
        lock.lock(); stopped = true; lock.broadcast(); lock.unlock()
    }
}

/// Whole utterances in length buckets (docs/design.md §3.6), for the MM-DiT: each epoch shuffles the
/// utterances, sorts them by length within windows of 50 batches, cuts batches of at most
/// `batchSize`, and shuffles the batches. Utterances longer than `maxLength` are left out and
/// counted. Deterministic from (seed, epoch).
public struct BucketSampler: Sendable {
    public let lengths: [Int]
    public let batchSize: Int, maxLength: Int, seed: UInt64
    public let eligible: [Int]
    public var skippedTooLong: Int { lengths.count - eligible.count }

    public init(lengths: [Int], batchSize: Int, maxLength: Int, seed: UInt64) {
        self.lengths = lengths; self.batchSize = batchSize; self.maxLength = maxLength; self.seed = seed
        eligible = lengths.indices.filter { lengths[$0] <= maxLength && lengths[$0] > 0 }
    }

    /// The batches of one epoch, as indices into `lengths`.
    public func batches(epoch: Int) -> [[Int]] {
        let perm = EpochOrder(count: eligible.count, seed: seed).permutation(epoch: epoch).map { eligible[$0] }
        var out: [[Int]] = []
        let window = 50 * batchSize
        for w in stride(from: 0, to: perm.count, by: window) {
            let sorted = perm[w..<min(perm.count, w + window)].sorted { (lengths[$0], $0) < (lengths[$1], $1) }
            for b in stride(from: 0, to: sorted.count, by: batchSize) { out.append(Array(sorted[b..<min(sorted.count, b + batchSize)])) }
        }
        var r = RandomStream(seed: seed, UInt64(epoch), 0xB0C)
        r.shuffle(&out)
        return out
    }

    /// Padding mask `[B·maxLen]` (true = a real frame) and the padded length for a batch.
    public func mask(_ batch: [Int]) -> (mask: [Bool], length: Int) {
        let L = batch.map { lengths[$0] }.max() ?? 0
        var m = [Bool](repeating: false, count: batch.count * L)
        for (b, i) in batch.enumerated() { for t in 0..<lengths[i] { m[b * L + t] = true } }
        return (m, L)
    }
}

/// Reference pairs for the MM-DiT (docs/design.md §3.2): for a target clip, another utterance of the same
/// speaker (cloning) or, when its utterance has variants, another version of it (tuning).
public struct PairIndex: Sendable {
    let bySpeaker: [String: [Int]]
    let byGroup: [String: [Int]]
    let metas: [ClipMeta]

    public init(_ metas: [ClipMeta]) {
        self.metas = metas
        var s: [String: [Int]] = [:], g: [String: [Int]] = [:]
        for (i, m) in metas.enumerated() { s[m.speaker, default: []].append(i); g[m.variant, default: []].append(i) }
        bySpeaker = s; byGroup = g
    }

    public enum Kind: String, Sendable { case cloning, tuning }

    /// A reference for clip `i`: tuning (another variant of the same utterance) when `preferTuning`
    /// and one exists, else cloning (same speaker, different utterance group); nil if neither.
    public func reference(for i: Int, preferTuning: Bool, _ r: inout RandomStream) -> (index: Int, kind: Kind)? {
        let m = metas[i]
        let variants = (byGroup[m.variant] ?? []).filter { $0 != i }
        if preferTuning && !variants.isEmpty { return (variants[r.int(below: variants.count)], .tuning) }
        let others = (bySpeaker[m.speaker] ?? []).filter { metas[$0].variant != m.variant }
        if !others.isEmpty { return (others[r.int(below: others.count)], .cloning) }
        if !variants.isEmpty { return (variants[r.int(below: variants.count)], .tuning) }
        return nil
    }
}
