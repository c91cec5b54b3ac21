import XCTest
import TimbreGradCheck
import TimbreModelCases

/// Runs `ModelCases`: central differences in Float64 against the backward of every loss, the
/// discriminator and each whole model (the VAE with and without pitch, per upsampling, and the
/// MM-DiT), for their inputs and every (randomised) parameter.
final class ModelGradientTests: XCTestCase {
    func testEveryModelMatchesFiniteDifferences() {
        let (rows, failures) = GradCheck.runTable(ModelCases.all)
        XCTAssertEqual(failures, [])
        print(GradCheck.format(rows))
    }
}
