import Foundation
import TimbreCheckpoint
import TimbreMPI
import TimbreTrain

/// A recipe's own training step, timed as training runs it: the task a train command builds from
/// the recipe and its data, under the trainer (micro-batches, data loading, clipping, AdamW, EMA,
/// the non-finite guard), for `steps` steps into a temporary folder that is removed afterwards.
public enum RecipeBench {
    public struct Result: Sendable {
        /// Seconds of each step, in order (the trainer's own timing, `metrics.jsonl`'s `seconds`).
        public var stepSeconds: [Double]
        public var examplesPerStep: Int
        /// The steps after the first (which allocates every buffer): best and median.
        public var best: Double { stepSeconds.dropFirst().min() ?? stepSeconds[0] }
        public var median: Double {
            let s = Array(stepSeconds.dropFirst().sorted())
            return s.isEmpty ? stepSeconds[0] : s[s.count / 2]
        }
    }

    public static func run<Task: TrainingTask>(_ task: Task, training: TrainingConfig, seed: UInt64, steps: Int) throws -> Result {
        let dir = NSTemporaryDirectory() + "timbre-bench-recipe-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var t = training
        t.steps = steps + 1
        t.checkpoint_every = steps + 1
        t.keep_last = 1
        var o = TrainerOptions(outDir: dir, training: t, recipe: Data("{}".utf8), seed: seed)
        o.quiet = true
        o.ranks = .single
        try Trainer(task: task, options: o, log: { _ in }).run()
        let lines = try String(contentsOfFile: "\(dir)/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let seconds = lines.compactMap { line -> Double? in
            let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return o?["eval"] == nil ? o?["seconds"] as? Double : nil
        }
        return Result(stepSeconds: seconds, examplesPerStep: task.examplesPerStep)
    }
}
