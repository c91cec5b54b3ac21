import TimbreMPI
import TimbreTensor

/// `timbre bench allreduce`: summing a flat gradient buffer over the ranks of an MPI job.
public enum AllReduceBench {
    public struct Row: Sendable {
        public var name: String, count: Int
        /// The slowest rank's time, best and median over the repetitions.
        public var best: Double, median: Double
        public var megabytes: Double { Double(count * 4) / 1e6 }
        /// Algorithm bandwidth: bytes ÷ median time.
        public var algorithmGBs: Double { Double(count * 4) / median / 1e9 }
        /// Bus bandwidth: × 2(N − 1)/N, what each rank sends and receives in a ring all-reduce.
        public func busGBs(ranks n: Int) -> Double { algorithmGBs * 2 * Double(n - 1) / Double(n) }
    }

    public enum Failure: Error, CustomStringConvertible {
        case wrongSum(rank: Int, element: Int, got: Float, expected: Float)
        public var description: String {
            switch self {
            case let .wrongSum(r, i, got, expected): return "rank \(r): element \(i) summed to \(got), expected \(expected)"
            }
        }
    }

    /// Sums a buffer of each size over `ranks` as training does (in place, in chunks), `repeats`
    /// timed times after one warm-up, and checks the sums (small integers: exact in any order).
    public static func run(_ sizes: [(name: String, count: Int)], ranks: Ranks, repeats: Int, row: (Row) -> Void) throws {
        let n = ranks.size
        for (name, count) in sizes {
            let x = Tensor<Float>(zeros: [count])
            let fill = { for i in 0..<count { x[i] = Float((i % 7) * (ranks.rank + 1)) } }
            var times: [Double] = []
            for rep in 0...repeats {
                fill()
                try ranks.barrier()
                let t0 = ranks.wallTime()
                try ranks.sum(x.data, count: count)
                var dt = [ranks.wallTime() - t0]
                try ranks.maximum(&dt)  // the slowest rank's time
                if rep > 0 { times.append(dt[0]) }
            }
            let total = Float(n * (n + 1) / 2)
            if let bad = (0..<count).first(where: { x[$0] != Float($0 % 7) * total }) {
                throw Failure.wrongSum(rank: ranks.rank, element: bad, got: x[bad], expected: Float(bad % 7) * total)
            }
            times.sort()
            row(Row(name: name, count: count, best: times[0], median: times[times.count / 2]))
        }
    }
}
