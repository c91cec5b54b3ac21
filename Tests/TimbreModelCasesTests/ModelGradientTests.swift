import XCTest
import TimbreGradCheck
import TimbreModelCases

/// Runs `ModelCases`: central differences in Float64 against the backward of every loss, the
/// discriminator and each whole model (the VAE with and without pitch, per upsampling, and the
/// MM-DiT), for their inputs and every (randomised) parameter.
final class ModelGradientTests: XCTestCase {
    func testEveryModelMatchesFiniteDifferences() {
        var all: [GradCheckRow] = []
        for c in ModelCases.all {
            let rows = GradCheck.run(c)
            XCTAssertFalse(rows.isEmpty, "\(c.name): nothing checked")
            for r in rows {
                XCTAssertTrue(r.passed, "\(r.caseName) / \(r.tensor): rel err \(r.relError) (tol \(r.tolerance)), scale \(r.scale), non-finite \(r.nonFinite)")
            }
            all += rows
        }
        print(GradCheck.format(all))
    }
}
