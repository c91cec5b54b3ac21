import XCTest
import TimbreDiscriminator
import TimbreTensor

/// `MSSTFTDiscriminator.trainingStep` (what `timbre train vae` runs in the adversarial stage)
/// against the same step written as separate passes: the discriminator's gradients are those of
/// its hinge loss alone (the generator's backward through it leaves no trace), and dL/d(fake) is
/// that of the generator losses.
final class DiscriminatorTests: XCTestCase {
    func noise(_ shape: [Int], _ seed: UInt64) -> Tensor<Double> {
        let t = Tensor<Double>(zeros: shape)
        var r = RandomStream(seed: seed, 5)
        r.fillNormal(t, std: 0.5)
        return t
    }

    func testTrainingStepMatchesSeparatePasses() {
        let d = MSSTFTDiscriminator<Double>(DiscriminatorConfig(filters: 3, n_ffts: [16, 8], dilations: [1, 2], periods: [2, 3]), seed: 4)
        d.store.randomise(seed: 19, std: 1.5)
        let real = noise([2, 1, 40], 1), fake = noise([2, 1, 40], 2)

        d.store.zeroGrads()
        let step = d.trainingStep(real: real, fake: fake, adversarialWeight: 0.1, featureWeight: 5)
        let stepGrads = d.store.grads.clone()

        // the discriminator's side: its hinge loss, each scale's real and fake passes backward
        d.store.zeroGrads()
        var realLogits: [Tensor<Double>] = [], fakeLogits: [Tensor<Double>] = []
        for s in d.subs {
            let none = [Tensor<Double>?](repeating: nil, count: s.featureCount)
            let r = s.forward(real).logits.clone()
            realLogits.append(r)
            _ = s.backward(AdversarialLoss.discriminator(real: [r], fake: [r]).dReal[0], features: none)
            let f = s.forward(fake).logits.clone()
            fakeLogits.append(f)
            _ = s.backward(AdversarialLoss.discriminator(real: [f], fake: [f]).dFake[0], features: none)
        }
        let hinge = AdversarialLoss.discriminator(real: realLogits, fake: fakeLogits)
        XCTAssertEqual(step.discriminator, hinge.loss, accuracy: 1e-12)
        var worst = 0.0, scale = 0.0
        for i in 0..<stepGrads.count { worst = max(worst, abs(stepGrads[i] - d.store.grads[i])); scale = max(scale, abs(d.store.grads[i])) }
        XCTAssertGreaterThan(scale, 0)
        XCTAssertLessThan(worst, 1e-12 * scale, "discriminator gradients differ from the hinge loss's alone")

        // the generator's side: the losses and dL/d(fake) of the whole discriminator at once
        let realFeatures = d.forward(real).map { $0.features.map { $0.clone() } }
        let g = AdversarialLoss.generator(fake: d.forward(fake), realFeatures: realFeatures, adversarialWeight: 0.1, featureWeight: 5)
        XCTAssertEqual(step.adversarial, g.adversarial, accuracy: 1e-12)
        XCTAssertEqual(step.featureMatching, g.featureMatching, accuracy: 1e-12)
        let dFake = d.backward(g.grads)
        worst = 0; scale = 0
        for i in 0..<dFake.count { worst = max(worst, abs(step.dFake[i] - dFake[i])); scale = max(scale, abs(dFake[i])) }
        XCTAssertGreaterThan(scale, 0)
        XCTAssertLessThan(worst, 1e-12 * scale, "dL/d(fake) differs")
    }
}
