import Foundation
import XCTest
import TimbreEval

final class EvalTests: XCTestCase {
    func testEqualErrorRate() {
        // Separated: 0 %.
        XCTAssertEqual(SpeakerSuite.equalErrorRate(targets: [0.8, 0.9], nonTargets: [0.1, 0.2, 0.3]).eer, 0, accuracy: 1e-12)
        // Identical distributions: 50 %.
        let v = (0..<100).map { Double($0) / 100 }
        XCTAssertEqual(SpeakerSuite.equalErrorRate(targets: v, nonTargets: v).eer, 0.5, accuracy: 0.02)
        // One target of four below every non-target, one non-target of four above every target: 25 %.
        let r = SpeakerSuite.equalErrorRate(targets: [0.05, 0.7, 0.8, 0.9], nonTargets: [0.1, 0.2, 0.3, 0.95])
        XCTAssertEqual(r.eer, 0.25, accuracy: 1e-12)
        XCTAssertTrue((0.3...0.7).contains(r.threshold), "\(r.threshold)")
        // Against a brute-force sweep on random overlapping scores.
        var s: UInt64 = 42
        func u() -> Double { s = s &* 6364136223846793005 &+ 1442695040888963407; return Double(s >> 11) / Double(1 << 53) }
        let t = (0..<300).map { _ in 0.3 + 0.5 * u() }, n = (0..<900).map { _ in 0.5 * u() }
        var best = (gap: 2.0, eer: 0.0)
        for thr in (t + n).sorted() {
            let frr = Double(t.filter { $0 < thr }.count) / 300, far = Double(n.filter { $0 >= thr }.count) / 900
            if abs(frr - far) < best.gap { best = (abs(frr - far), (frr + far) / 2) }
        }
        XCTAssertEqual(SpeakerSuite.equalErrorRate(targets: t, nonTargets: n).eer, best.eer, accuracy: 0.01)
    }

    func testSpreadIndices() {
        XCTAssertEqual(spreadIndices(4, over: 10), [0, 2, 5, 7])
        XCTAssertEqual(spreadIndices(5, over: 3), [0, 1, 2])
    }

    func testReportJSONHasNoNaN() throws {
        let clip = ClipScore(id: "u", speaker: "s", source: "x", environment: "clean", seconds: 1, metrics: ["stoi": .nan, "mel": 1])
        let r = Report(title: "t", setup: [("a", "b")], systems: [SystemScore(name: "sys", clips: [clip])], main: 0)
        let o = try JSONSerialization.jsonObject(with: try r.json()) as! [String: Any]
        let sys = (o["systems"] as! [[String: Any]])[0]
        XCTAssertEqual((sys["overall"] as! [String: Any])["mel"] as? Double, 1)
        XCTAssertNil((sys["overall"] as! [String: Any])["stoi"], "a NaN metric is left out of the mean")
        let c = ((sys["clips"] as! [[String: Any]])[0]["metrics"] as! [String: Any])
        XCTAssertTrue(c["stoi"] is NSNull, "NaN is written as null")
        XCTAssertTrue(r.html().contains("<table>") && r.markdown().contains("| sys |"))
    }
}
