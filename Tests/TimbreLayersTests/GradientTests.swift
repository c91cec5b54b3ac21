import XCTest
import TimbreGradCheck
import TimbreTensor

/// Runs the layer table of `LayerCases`: central differences in Float64 against every layer's
/// backward, for its inputs and every (randomised) parameter.
final class GradientTests: XCTestCase {
    func testEveryLayerMatchesFiniteDifferences() {
        let (rows, failures) = GradCheck.runTable(LayerCases.all)
        XCTAssertEqual(failures, [])
        print(GradCheck.format(rows))
    }

    /// The check itself must fail on a wrong backward: a deliberately broken gradient (scaled by
    /// 1.01) is reported as an error of about 1e-2.
    func testCheckerDetectsAWrongGradient() {
        let c = LayerCases.all.first { $0.name.hasPrefix("Linear 5→3") }!
        let broken = GradCase(c.name + " (broken)", store: c.store, inputs: c.inputs.map { ($0.name, $0.tensor) },
                              forward: c.forward, backward: { dy in
                                  let g = c.backward(dy)
                                  for t in g { Kernels.scale(t.count, 1.01, t.data) }
                                  return g
                              })
        let rows = GradCheck.run(broken)
        let x = rows.first { $0.tensor == "x" }!
        XCTAssertFalse(x.passed)
        XCTAssertGreaterThan(x.relError, 5e-3)
        XCTAssertTrue(GradCheck.runTable([broken]).failures.contains { $0.hasPrefix(broken.name + " / x:") })
    }
}
