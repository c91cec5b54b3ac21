import Foundation
import TimbreTensor

/// One gradient test: a forward function over some input tensors and a parameter store, and the
/// matching backward. Everything runs in Float64 so central differences are precise: with step
/// h = 1e-6 and O(1) values the truncation error (~h²) and the rounding error (~1e-16·|L|/h) are
/// both far below 1e-7 of the gradient's scale, so a tolerance of 1e-6 separates a correct
/// backward from a wrong one by orders of magnitude.
public struct GradCase {
    public let name: String
    /// Largest accepted normalised error (see `GradCheckRow.relError`).
    public let tolerance: Double
    /// Why this tolerance (and anything special about the case).
    public let why: String
    public let store: ParameterStore<Double>
    public let inputs: [(name: String, tensor: Tensor<Double>)]
    public let forward: () -> Tensor<Double>
    /// Given dL/dy, accumulates parameter gradients and returns dL/d(input) in `inputs` order.
    public let backward: (Tensor<Double>) -> [Tensor<Double>]
    /// Finite-difference step, and whether to use the 4-point stencil
    /// (−f(2h) + 8f(h) − 8f(−h) + f(−2h))/12h, whose O(h⁴) truncation allows a larger step and so
    /// less rounding noise — needed for deep models, where the noise floor of the 2-point stencil
    /// (~1e-9 absolute) exceeds the gradients of weakly coupled parameters.
    public var step: Double = 1e-6
    public var fourPoint = false
    /// Tensors the output cannot depend on (e.g. the last MM-DiT block's text queries, which
    /// nothing reads): they pass only if both the analytic and the numeric gradient are exactly 0.
    public var unused: Set<String> = []
    /// The parameter names this case checks (nil: all). A model whose parameters need different
    /// steps (two error floors) is checked as two cases, each over its part.
    public var checks: ((String) -> Bool)?

    public init(_ name: String, tolerance: Double = 1e-6, why: String = "smooth op, Float64 central differences",
                store: ParameterStore<Double>, inputs: [(String, Tensor<Double>)],
                forward: @escaping () -> Tensor<Double>, backward: @escaping (Tensor<Double>) -> [Tensor<Double>]) {
        self.name = name; self.tolerance = tolerance; self.why = why; self.store = store
        self.inputs = inputs.map { (name: $0.0, tensor: $0.1) }
        self.forward = forward; self.backward = backward
    }
}

/// The comparison for one tensor (an input or a parameter) of one case.
public struct GradCheckRow: Sendable {
    public var caseName: String, tensor: String
    public var checked: Int, count: Int
    /// max_i |analytic_i − numeric_i|
    public var maxAbsError: Double
    /// maxAbsError / max_i max(|analytic_i|, |numeric_i|): the error relative to the tensor's
    /// gradient scale (element-wise ratios blow up where a gradient crosses zero).
    public var relError: Double
    /// Largest |gradient| seen; 0 means the check could not have failed for a wrong formula.
    public var scale: Double
    public var tolerance: Double
    public var nonFinite: Bool
    /// Declared unused by the case: must have zero gradient.
    public var expectZero = false
    public var passed: Bool { expectZero ? !nonFinite && scale == 0 : !nonFinite && relError <= tolerance && scale > 0 }
}

public enum GradCheck {
    /// Runs central differences on every input and every parameter of `c` (at most
    /// `maxPerTensor` elements per tensor, sampled without replacement when larger).
    public static func run(_ c: GradCase, maxPerTensor: Int = 64, seed: UInt64 = 1) -> [GradCheckRow] {
        let h = c.step
        var rng = RandomStream(seed: seed, fnv1a(c.name))
        let y0 = c.forward()
        let r = Tensor<Double>(zeros: y0.shape)
        rng.fillNormal(r)
        // Analytic gradients (copied: layers reuse their buffers).
        c.store.zeroGrads()
        let y = c.forward()
        let outputNonFinite = Kernels.firstNonFinite(y.count, y.data) != nil
        let dIn = c.backward(r.clone()).map { $0.clone() }
        precondition(dIn.count == c.inputs.count, "GradCheck \(c.name): backward returned \(dIn.count) gradients for \(c.inputs.count) inputs")
        let paramGrads = c.store.grads.clone()

        func loss() -> Double { let y = c.forward(); return Kernels.dot(y.count, y.data, r.data) }

        var targets: [(String, Tensor<Double>, (Int) -> Double)] = []
        for (i, inp) in c.inputs.enumerated() {
            let g = dIn[i]
            precondition(g.count == inp.tensor.count, "GradCheck \(c.name): gradient of \(inp.name) has shape \(g.shape), input \(inp.tensor.shape)")
            targets.append((inp.name, inp.tensor, { g[$0] }))
        }
        for p in c.store.params where c.checks?(p.name) ?? true {
            targets.append((p.name, p.value, { paramGrads[p.offset + $0] }))
        }
        var rows: [GradCheckRow] = []
        for (name, t, analytic) in targets {
            var idx = Array(0..<t.count)
            if idx.count > maxPerTensor {
                for i in 0..<maxPerTensor { idx.swapAt(i, i + rng.int(below: idx.count - i)) }
                idx = Array(idx.prefix(maxPerTensor))
            }
            var maxAbs = 0.0, scale = 0.0, nonFinite = outputNonFinite
            for i in idx {
                let v = t[i]
                t[i] = v + h; let lp = loss()
                t[i] = v - h; let lm = loss()
                var num = (lp - lm) / (2 * h)
                if c.fourPoint {
                    t[i] = v + 2 * h; let lp2 = loss()
                    t[i] = v - 2 * h; let lm2 = loss()
                    num = (-lp2 + 8 * lp - 8 * lm + lm2) / (12 * h)
                }
                t[i] = v
                let ana = analytic(i)
                if !num.isFinite || !ana.isFinite { nonFinite = true; continue }
                maxAbs = max(maxAbs, abs(num - ana))
                scale = max(scale, abs(num), abs(ana))
            }
            let rel = scale > 0 ? maxAbs / scale : (maxAbs == 0 ? 0 : .infinity)
            rows.append(GradCheckRow(caseName: c.name, tensor: name, checked: idx.count, count: t.count,
                                     maxAbsError: maxAbs, relError: rel, scale: scale, tolerance: c.tolerance,
                                     nonFinite: nonFinite, expectZero: c.unused.contains(name)))
        }
        return rows
    }

    /// A fixed-width table of rows, worst first per case.
    /// Runs every case: all rows, and one line per case that checked nothing or tensor that
    /// failed (empty when the table passes). The tests and `timbre selfcheck` run their tables so.
    public static func runTable(_ cases: [GradCase], maxPerTensor: Int = 64) -> (rows: [GradCheckRow], failures: [String]) {
        var rows: [GradCheckRow] = [], failures: [String] = []
        for c in cases {
            let r = run(c, maxPerTensor: maxPerTensor)
            if r.isEmpty { failures.append("\(c.name): nothing checked") }
            for row in r where !row.passed {
                failures.append("\(row.caseName) / \(row.tensor): rel err \(row.relError) (tol \(row.tolerance)), scale \(row.scale), non-finite \(row.nonFinite)")
            }
            rows += r
        }
        return (rows, failures)
    }

    public static func format(_ rows: [GradCheckRow]) -> String {
        var s = pad("case", 34) + pad("tensor", 26) + pad("checked", 10) + pad("max abs err", 13) + pad("rel err", 11) + pad("tol", 8) + "ok\n"
        for r in rows {
            s += pad(r.caseName, 34) + pad(r.tensor, 26) + pad("\(r.checked)/\(r.count)", 10)
            s += pad(sci(r.maxAbsError), 13) + pad(sci(r.relError), 11) + pad(sci(r.tolerance), 8)
            s += r.passed ? (r.expectZero ? "yes (unused: 0)\n" : "yes\n") : (r.nonFinite ? "NON-FINITE\n" : (r.expectZero ? "NO (declared unused, gradient not 0)\n" : r.scale == 0 ? "ZERO GRADIENT\n" : "NO\n"))
        }
        return s
    }

    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
    public static func sci(_ x: Double) -> String { x == 0 ? "0" : String(format: "%.2e", x) }
}

extension ParameterStore where T == Double {
    /// Replaces every parameter with N(0, std²) draws: zero-initialised gates and outputs (or
    /// unit norm weights) would hide errors in the gradient formulas.
    public func randomise(seed: UInt64, std: Double = 0.5) {
        var rng = RandomStream(seed: seed, 0xDEC0DE)
        rng.fillNormal(values, std: std)
    }
}
