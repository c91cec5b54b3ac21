import Foundation
import Synchronization
import TimbreFormats
import TimbreMPI
import TimbreTensor
import TimbreCheckpoint

/// What the trainer trains: a model's parameters and a deterministic source of loss terms.
///
/// `run(step:micro:of:)` draws micro-batch `micro` of the `microBatches` of update `step` (1-based) — as a
/// pure function of the seed, the step and the micro-batch, so a resumed run or another rank
/// draws the same data — runs forward and backward, **accumulates** gradients into `store.grads`
/// and returns the loss terms (`loss` is the total that was differentiated; other keys are
/// logged parts). In a job of N ranks each runs its own `micro_batches` of the step's N ×
/// `micro_batches` (docs/distributed.md).
public protocol TrainingTask: AnyObject {
    var store: ParameterStore<Float> { get }
    var modelType: String { get }
    /// Examples in one optimizer step (for samples/s).
    var examplesPerStep: Int { get }
    /// The data position saved in checkpoints (epoch, cursor…).
    var dataCursor: [String: Int] { get set }
    func run(step: Int, micro: Int, of microBatches: Int) throws -> [String: Double]
    /// The data position after the first `microBatches` micro-batches of the run (what
    /// `dataCursor` holds after running micro-batch `microBatches − 1` itself).
    func dataCursor(after microBatches: Int) -> [String: Int]
    /// Called once on a fresh start (not on resume or --init-from) after the weights are drawn:
    /// data-dependent initialisation. Returns a line for the log, or nil.
    func initialiseFresh() throws -> String?
    /// Called once before training when the recipe freezes parameters (`training.freeze`): a
    /// task may skip work whose only use is the frozen parameters' gradients.
    func freeze(_ isFrozen: (String) -> Bool)

    // A task that trains a second model of its own (the VAE's discriminator) keeps its gradients
    // and optimizer and takes part in the step through these:
    /// The auxiliary model's parameters: the trainer zeroes its gradients at each step and sums
    /// them over micro-batches and ranks as it does the model's.
    var auxiliaryStore: ParameterStore<Float>? { get }
    /// After the step's micro-batches: a non-finite value in the auxiliary model's gradients, described
    /// (the step is then skipped like one with a non-finite loss), or nil.
    func auxiliaryNonFinite(step: Int) -> String?
    /// After the model's update of `step` (not called for skipped steps): update the auxiliary
    /// model, `lrFactor` being the schedule's factor at this step.
    func updateAuxiliary(step: Int, lrFactor: Double)
    /// Writes the auxiliary model's state into checkpoint directory `dir`; returns the files' SHA-256.
    func saveAuxiliary(into dir: String) throws -> [String: String]
    /// Restores it on resume from a validated checkpoint; returns a line for the log, or nil.
    func restoreAuxiliary(from path: String, state: CheckpointState) throws -> String?
}

extension TrainingTask {
    public func dataCursor(after microBatches: Int) -> [String: Int] { dataCursor }
    public var auxiliaryStore: ParameterStore<Float>? { nil }
    public func initialiseFresh() throws -> String? { nil }
    public func freeze(_ isFrozen: (String) -> Bool) {}
    public func auxiliaryNonFinite(step: Int) -> String? { nil }
    public func updateAuxiliary(step: Int, lrFactor: Double) {}
    public func saveAuxiliary(into dir: String) throws -> [String: String] { [:] }
    public func restoreAuxiliary(from path: String, state: CheckpointState) throws -> String? { nil }
}

public enum ResumeMode: Equatable, Sendable {
    case fresh
    case auto
    case path(String)
}

public struct TrainerOptions: Sendable {
    public var outDir: String
    public var training: TrainingConfig
    public var recipe: Data
    public var seed: UInt64
    public var resume: ResumeMode = .fresh
    /// Start from these weights (a checkpoint or training directory) with fresh optimizer state.
    public var initFrom: String?
    /// Overrides `training.steps`.
    public var steps: Int?
    public var quiet = false
    /// The job's processes: each runs `micro_batches` micro-batches of every step and the
    /// gradients are summed over all of them; rank 0 alone logs, evaluates and saves.
    public var ranks: Ranks = .world
    public init(outDir: String, training: TrainingConfig, recipe: Data, seed: UInt64) {
        self.outDir = outDir; self.training = training; self.recipe = recipe; self.seed = seed
    }
}

public enum TrainingError: Error, CustomStringConvertible {
    case nonFinite(step: Int, bad: Int, detail: String, lastCheckpoint: String?)
    case alreadyExists(String)
    case noValidCheckpoint(String, skipped: [String])
    case badFreeze(String)
    case ranksDisagree(step: Int, detail: String)
    public var description: String {
        switch self {
        case .nonFinite(let s, let n, let d, let ck):
            return "training stopped at step \(s) after \(n) consecutive steps with non-finite values (\(d)); "
                + (ck.map { "the last good checkpoint is \($0)" } ?? "no checkpoint was written")
        case .alreadyExists(let d):
            return "\(d) already holds checkpoints: pass --resume auto to continue, or choose another --out"
        case .noValidCheckpoint(let d, let skipped):
            return "--resume auto: none of the \(skipped.count) checkpoint\(skipped.count == 1 ? "" : "s") in \(d) is valid, so nothing was resumed "
                + "and nothing in \(d) was changed:\n" + skipped.map { "  skipped \($0)" }.joined(separator: "\n")
                + "\nTo start afresh, move those step-* directories (and metrics.jsonl) out of \(d), or train into another --out."
        case .badFreeze(let why):
            return "recipe training.freeze: \(why)"
        case .ranksDisagree(let s, let d):
            return "step \(s): the ranks of this job disagree (\(d)); they must run the same binary, recipe and corpus"
        }
    }
}

/// SIGINT/SIGTERM set a flag; the trainer checks it between steps, saves and returns.
public enum StopSignal {
    static let flag = Atomic<Bool>(false)
    public static var requested: Bool { flag.load(ordering: .relaxed) }
    public static func install() {
        signal(SIGINT) { _ in StopSignal.flag.store(true, ordering: .relaxed) }
        signal(SIGTERM) { _ in StopSignal.flag.store(true, ordering: .relaxed) }
    }
}

/// The training loop (docs/design.md §7): gradient accumulation, the non-finite guard, clipping, AdamW with
/// the schedule, EMA, JSONL metrics (`OUT/metrics.jsonl`), progress, periodic checkpoints, and a
/// checkpoint on SIGINT/SIGTERM before returning normally.
public final class Trainer<Task: TrainingTask> {
    public let task: Task
    public let options: TrainerOptions
    public let optimizer: AdamW
    public let ema: EMA?
    public private(set) var step = 0
    /// Held-out evaluation run after every checkpoint; its values go to metrics.jsonl as
    /// {"step": s, "eval": {…}} and to the log.
    public var evaluate: ((Int) throws -> [String: Double])?
    var badSteps = 0, skippedSteps = 0
    /// Flat ranges of the frozen parameters (`training.freeze`).
    let frozen: [Range<Int>]
    var lastCheckpoint: String?
    let log: (String) -> Void

    public init(task: Task, options: TrainerOptions, log: @escaping (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) {
        self.task = task; self.options = options; self.log = log
        optimizer = AdamW(task.store, options.training.optimizer, frozen: options.training.isFrozen)
        frozen = task.store.params.filter { options.training.isFrozen($0.name) }.map { $0.offset..<($0.offset + $0.count) }
        ema = options.training.ema.map { EMA(task.store, $0) }
    }

    var metricsPath: String { "\(options.outDir)/metrics.jsonl" }
    var totalSteps: Int { options.steps ?? options.training.steps }

    /// Checks `training.freeze` against the model's names and tells the task. Returns a line for
    /// the log, or nil when nothing is frozen.
    func applyFreeze() throws -> String? {
        guard let prefixes = options.training.freeze, !prefixes.isEmpty else { return nil }
        let params = task.store.params.filter { $0.kind != .buffer }
        let tops = Set(params.map { $0.name.split(separator: ".").first.map(String.init) ?? $0.name }).sorted()
        for p in prefixes where !params.contains(where: { $0.name.hasPrefix(p) }) {
            throw TrainingError.badFreeze("'\(p)' names no parameter of this \(task.modelType) (its names start with \(tops.map { "'\($0).'" }.joined(separator: ", ")))")
        }
        let n = params.filter { options.training.isFrozen($0.name) }.reduce(0) { $0 + $1.count }
        let all = params.reduce(0) { $0 + $1.count }
        if n == all { throw TrainingError.badFreeze("\(prefixes) freezes every parameter; nothing would train") }
        task.freeze(options.training.isFrozen)
        return "frozen (training.freeze \(prefixes)): \(n) of \(all) parameters; training \(all - n)"
    }

    /// Loads weights or a whole training state as the options ask. Returns a line describing it.
    public func prepare() throws -> String {
        let frozenLine = try applyFreeze()
        return try load() + (frozenLine.map { "\n" + $0 } ?? "")
    }

    var ranks: Ranks { options.ranks }

    /// Rank 0 chooses what to start from (and alone touches the output directory); the other
    /// ranks load the same checkpoint or weights, and every rank then holds rank 0's parameters.
    func load() throws -> String {
        let line = ranks.isRoot ? try loadAsRoot() : ""
        guard ranks.isDistributed else { return line }
        let chosen = try ranks.broadcast(lastCheckpoint ?? "")
        if !ranks.isRoot {
            if chosen.isEmpty { _ = try startFresh() } else { _ = try restore(try Checkpoints.resolve(chosen)) }
        }
        try broadcastWeights()
        return line + (ranks.isRoot ? "\n\(ranks.size) ranks, \(options.training.microBatches) micro-batch\(options.training.microBatches == 1 ? "" : "es") each; rank 0 logs, evaluates and saves" : "")
    }

    /// Every rank takes rank 0's weights (and EMA): a fresh start's data-dependent initialisation
    /// then cannot drift between ranks.
    func broadcastWeights() throws {
        for t in [task.store.values] + (ema.map { [$0.values] } ?? []) + (task.auxiliaryStore.map { [$0.values] } ?? []) {
            try ranks.broadcast(UnsafeMutableRawPointer(t.data), bytes: t.count * MemoryLayout<Float>.stride)
        }
    }

    func loadAsRoot() throws -> String {
        let fm = FileManager.default
        try fm.createDirectory(atPath: options.outDir, withIntermediateDirectories: true)
        // Leftovers of a run killed while saving: never complete checkpoints, safe to delete.
        for n in (try? fm.contentsOfDirectory(atPath: options.outDir)) ?? [] where n.hasPrefix(".tmp-") || n.hasPrefix(".old-") {
            try? fm.removeItem(atPath: "\(options.outDir)/\(n)")
        }
        var found: (path: String, state: CheckpointState)?
        switch options.resume {
        case .fresh:
            if !Checkpoints.stepDirectories(options.outDir).isEmpty { throw TrainingError.alreadyExists(options.outDir) }
        case .auto:
            var skipped: [String] = []
            found = Checkpoints.newestValid(options.outDir) { line in skipped.append(line); self.log(line) }
            if found == nil && !Checkpoints.stepDirectories(options.outDir).isEmpty {
                throw TrainingError.noValidCheckpoint(options.outDir, skipped: skipped.map { $0.replacingOccurrences(of: "skipping ", with: "") })
            }
        case .path(let p):
            found = try Checkpoints.resolve(p)
        }
        if let found {
            let auxiliary = try restore(found)
            let later = Checkpoints.stepDirectories(options.outDir).filter { $0.step > step }
            if !later.isEmpty {
                log("note: \(options.outDir) holds \(later.count) checkpoint\(later.count == 1 ? "" : "s") after step \(step) (\(later.map { ($0.path as NSString).lastPathComponent }.reversed().joined(separator: ", "))); "
                    + "they are kept, and --resume auto would choose the newest valid one")
            }
            try truncateMetrics(after: step)
            return "resumed from \(found.path) at step \(step)" + (auxiliary.map { "; " + $0 } ?? "")
        }
        // A fresh start into a directory with history (metrics of a run that left no checkpoint):
        // that history is kept under another name, never deleted.
        if let old = fm.contents(atPath: metricsPath), !old.isEmpty {
            let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
            let kept = "\(options.outDir)/metrics-before-\(stamp).jsonl"
            try FileIO.rename(metricsPath, kept)
            log("note: \(metricsPath) (from an earlier run without a checkpoint) moved to \(kept)")
        } else {
            try? fm.removeItem(atPath: metricsPath)
        }
        return try startFresh()
    }

    /// Restores a validated checkpoint's whole training state; returns the task's line, if any.
    func restore(_ found: (path: String, state: CheckpointState)) throws -> String? {
        let (path, state) = found
        guard state.model_type == task.modelType else {
            throw CheckpointError.invalid(path, "it holds a '\(state.model_type)' model, not '\(task.modelType)'")
        }
        try Checkpoints.restore(path, state: state, store: task.store, optimizer: optimizer, ema: ema)
        let auxiliary = try task.restoreAuxiliary(from: path, state: state)
        step = state.step
        badSteps = state.bad_steps
        skippedSteps = state.skipped_steps
        task.dataCursor = state.data_cursor
        lastCheckpoint = path
        return auxiliary
    }

    /// Step 0: the weights of `--init-from`, or the task's data-dependent initialisation.
    func startFresh() throws -> String {
        if let ck = options.initFrom {
            // A checkpoint (its EMA weights when it has them) or a released folder.
            let (_, file, _, source) = try Checkpoints.inferenceWeights(ck, modelType: task.modelType)
            try Checkpoints.loadTensors(file, into: task.store.values, store: task.store)
            ema?.values.copy(from: task.store.values)
            return "initialised from \(file) (step \(source)); fresh optimizer state"
        }
        var start = options.resume == .auto ? "no checkpoint in \(options.outDir): starting at step 0" : "starting at step 0"
        if let line = try task.initialiseFresh() {
            ema?.values.copy(from: task.store.values)
            start += "; " + line
        }
        return start
    }

    /// Keeps the metrics lines of steps ≤ `step` (those the checkpoint includes).
    func truncateMetrics(after step: Int) throws {
        guard let data = FileManager.default.contents(atPath: metricsPath) else { return }
        let kept = String(decoding: data, as: UTF8.self).split(separator: "\n").filter { line in
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let s = obj["step"] as? Int else { return false }
            return s <= step
        }
        try FileIO.writeAtomically(Data((kept.joined(separator: "\n") + (kept.isEmpty ? "" : "\n")).utf8), to: metricsPath)
    }

    func state() -> CheckpointState {
        let o = options.training.optimizer
        let iso = ISO8601DateFormatter().string(from: Date())
        return CheckpointState(model_type: task.modelType, step: step, data_cursor: task.dataCursor, seed: options.seed,
                               optimizer: .init(t: optimizer.t, lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.epsilon,
                                                weight_decay: o.weightDecay),
                               bad_steps: badSteps, skipped_steps: skippedSteps, hashes: [:], parameters: task.store.count,
                               created: iso)
    }

    @discardableResult
    public func saveCheckpoint() throws -> String {
        let path = try Checkpoints.save(outDir: options.outDir, store: task.store, optimizer: optimizer, ema: ema,
                                        state: state(), recipe: options.recipe, keepLast: options.training.keepLast,
                                        extra: task.saveAuxiliary)
        lastCheckpoint = path
        return path
    }

    /// Trains to the last step (or until a stop signal). Returns the number of steps run.
    @discardableResult
    public func run() throws -> Int {
        StopSignal.install()
        let root = ranks.isRoot
        let quiet = options.quiet || !root
        let start = try prepare()
        if !quiet { log(start) }
        let total = totalSteps
        let local = options.training.microBatches, jobMicroBatches = local * ranks.size
        let metrics = root ? try MetricsLog(path: metricsPath) : nil
        let progress = Progress(total: total, start: step, quiet: quiet)
        let schedule = options.training.schedule ?? ScheduleConfig(kind: "constant")
        let store = task.store, aux = task.auxiliaryStore
        let accumulator = MicroBatchSums(store, aux, microBatches: local)
        var ran = 0
        while step < total {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let s = step + 1
            // This rank's micro-batches of the step; the sums over ranks follow.
            var terms: [String: Double] = [:]
            for m in 0..<local {
                let out = try accumulator.run(micro: m) { try task.run(step: s, micro: ranks.rank * local + m, of: jobMicroBatches) }
                for (k, v) in out { terms[k, default: 0] += v / Double(jobMicroBatches) }
            }
            var stopping = StopSignal.requested
            if ranks.isDistributed {
                (terms, stopping) = try sumOverRanks(terms, stopping: stopping, step: s)
                task.dataCursor = task.dataCursor(after: s * jobMicroBatches)
            }
            if jobMicroBatches > 1 {
                Kernels.scale(store.grads.count, 1 / Float(jobMicroBatches), store.grads.data)
            }
            // Non-finite guard: skip the update, log the first offending tensor. The sums carry a
            // NaN from any rank to all, so every rank skips the same steps.
            var problem: String?
            if let bad = terms.sorted(by: { $0.key < $1.key }).first(where: { !$0.value.isFinite }) {
                problem = "loss term '\(bad.key)' = \(bad.value)"
            } else if let i = Kernels.firstNonFinite(store.grads.count, store.grads.data) {
                problem = "gradient of \(store.name(atFlatIndex: i)) = \(store.grads[i])"
            } else if let auxiliary = task.auxiliaryNonFinite(step: s) {
                problem = auxiliary
            }
            step = s
            if let problem {
                badSteps += 1; skippedSteps += 1
                if root { log("step \(s): skipped, \(problem) (\(badSteps) in a row)") }
                try metrics?.write(["step": s, "skipped": true, "reason": problem])
                if badSteps >= options.training.maxBadSteps {
                    throw TrainingError.nonFinite(step: s, bad: badSteps, detail: problem, lastCheckpoint: lastCheckpoint)
                }
                ran += 1
                continue
            }
            badSteps = 0
            for r in frozen { (store.grads.data + r.lowerBound).update(repeating: 0, count: r.count) }
            let gradNorm = clipGradients(store, maxNorm: options.training.grad_clip)
            let factor = schedule.factor(step: s, total: total)
            let lr = options.training.optimizer.lr * factor
            optimizer.update(lr: lr)
            task.updateAuxiliary(step: s, lrFactor: factor)
            ema?.update(store, t: optimizer.t, frozen: frozen)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            var line: [String: Any] = ["step": s, "lr": lr, "grad_norm": gradNorm, "seconds": seconds,
                                       "samples_per_s": Double(task.examplesPerStep) / seconds]
            for (k, v) in terms { line[k] = v }
            try metrics?.write(line)
            progress.update(step: s, loss: terms["loss"] ?? .nan)
            ran += 1
            if s % options.training.checkpointEvery == 0 || s == total || stopping {
                guard root else {
                    if stopping { return ran }
                    continue
                }
                let path = try saveCheckpoint()
                if let evaluate, !stopping, case let e = try evaluate(s), !e.isEmpty {
                    try metrics?.write(["step": s, "eval": e])
                    if !quiet {
                        log("step \(s) held-out: " + e.keys.sorted().map { String(format: "%@ %.4g", $0, e[$0]!) }.joined(separator: ", "))
                    }
                }
                if stopping {
                    progress.finish()
                    log("stopped by signal at step \(s); checkpoint saved to \(path); continue with --resume auto")
                    return ran
                }
            }
        }
        progress.finish()
        if !quiet { log("finished at step \(step); checkpoint \(lastCheckpoint ?? "(none)")") }
        return ran
    }

    /// The step's loss terms and gradients summed over the ranks (each rank's terms are already
    /// divided by the job's micro-batch count, so the sums are means); and whether any rank was
    /// asked to stop, so that all stop after the same step. The ranks must report the same terms.
    func sumOverRanks(_ terms: [String: Double], stopping: Bool, step s: Int) throws -> ([String: Double], Bool) {
        let keys = terms.keys.sorted()
        var hash: UInt64 = 14_695_981_039_346_656_037  // FNV-1a of the term names
        for byte in keys.joined(separator: ",").utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        let h = Double(hash >> 11)  // exactly representable
        var flags = [stopping ? 1 : 0, h, -h]
        try ranks.maximum(&flags)
        if flags[1] != h || flags[2] != -h {
            throw TrainingError.ranksDisagree(step: s, detail: "rank \(ranks.rank)'s loss terms are \(keys), another rank's differ")
        }
        var values = keys.map { terms[$0]! }
        try ranks.sum(&values)
        try ranks.sum(task.store.grads.data, count: task.store.grads.count)
        if let aux = task.auxiliaryStore { try ranks.sum(aux.grads.data, count: aux.grads.count) }
        return (Dictionary(uniqueKeysWithValues: zip(keys, values)), flags[0] > 0)
    }
}

/// Gradients of a step's micro-batches, summed in one fixed order whatever the split between
/// ranks: each micro-batch's gradient is computed into zeroed buffers and then added to the sum
/// of those before it. One process with `micro_batches: 2` thus adds the same two float vectors
/// that two ranks with one micro-batch each add in their all-reduce, and the results agree to
/// the bit (accumulating the second micro-batch straight into the first's gradients would
/// round differently inside the BLAS kernels).
final class MicroBatchSums {
    let stores: [ParameterStore<Float>]
    /// The sum of the earlier micro-batches while the current one runs (only with 2 or more).
    let saved: [Tensor<Float>]
    init(_ store: ParameterStore<Float>, _ aux: ParameterStore<Float>?, microBatches: Int) {
        stores = [store] + (aux.map { [$0] } ?? [])
        saved = microBatches > 1 ? stores.map { Tensor(zeros: [$0.count]) } : []
    }

    func run<R>(micro m: Int, _ body: () throws -> R) rethrows -> R {
        if m > 0 { for (st, keep) in zip(stores, saved) { keep.copy(from: st.grads) } }
        for st in stores { st.zeroGrads() }
        let out = try body()
        if m > 0 { for (st, keep) in zip(stores, saved) { Kernels.axpy(st.count, 1, keep.data, st.grads.data) } }
        return out
    }
}

/// The training run's `metrics.jsonl`: one JSON object appended per line, flushed after each.
public final class MetricsLog {
    let handle: FileHandle
    public init(path: String) throws {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let h = FileHandle(forWritingAtPath: path) else { throw FormatError.io(path, "cannot open for appending") }
        h.seekToEndOfFile()
        handle = h
    }
    deinit { try? handle.close() }
    /// One JSON line. A non-finite number (JSON has none) is written as null rather than
    /// stopping the run.
    public func write(_ obj: [String: Any]) throws {
        var d = try JSONSerialization.data(withJSONObject: JSONNumbers.finite(obj), options: [.sortedKeys])
        d.append(0x0A)
        handle.write(d)
    }
}

/// A progress bar with rate and ETA on a terminal; a line every 10 % (at most every 30 s)
/// otherwise.
public final class Progress {
    let total: Int, start: Int, quiet: Bool
    let tty = isatty(2) != 0
    let t0 = Date()
    var lastLine = Date.distantPast
    var lastPercent = -1
    public init(total: Int, start: Int, quiet: Bool = false) { self.total = total; self.start = start; self.quiet = quiet }

    public func update(step: Int, loss: Double) {
        if quiet { return }
        let done = step - start, elapsed = Date().timeIntervalSince(t0)
        let rate = Double(done) / max(elapsed, 1e-9)
        let eta = Double(total - step) / max(rate, 1e-9)
        let text = String(format: "%d/%d  %.2f steps/s  ETA %@  loss %.4g", step, total, rate, Self.duration(eta), loss)
        if tty {
            let width = 30, filled = Int(Double(width) * Double(step) / Double(max(total, 1)))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            FileHandle.standardError.write(Data("\r\(bar) \(text)\u{1B}[K".utf8))
        } else {
            let pct = 100 * step / max(total, 1)
            if pct / 10 != lastPercent / 10 && Date().timeIntervalSince(lastLine) >= 1 || Date().timeIntervalSince(lastLine) >= 30 || step == total {
                FileHandle.standardError.write(Data("step \(text)\n".utf8))
                lastLine = Date(); lastPercent = pct
            }
        }
    }

    public func finish() { if tty && !quiet { FileHandle.standardError.write(Data("\n".utf8)) } }

    public static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        let t = Int(s.rounded())
        return t >= 3600 ? "\(t / 3600)h\(t % 3600 / 60)m" : t >= 60 ? "\(t / 60)m\(t % 60)s" : "\(t)s"
    }
}
