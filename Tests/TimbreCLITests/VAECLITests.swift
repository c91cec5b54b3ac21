import Foundation
import XCTest

/// The VAE end to end through `timbre`: build the tiny corpus, overfit Recipes/vae-tiny.json on
/// four of its clips.
final class VAECLITests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func testTinyVAEOverfitsAFewClips() throws {
        let dir = NSTemporaryDirectory() + "timbre-vae-\(getpid())-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = try TimbreBinary.run(["corpus", "build", "--recipe", Self.repo + "/Datasets/tiny.json", "--out", dir + "/corpus"])
        XCTAssertEqual(c.status, 0, c.err)
        let t = try TimbreBinary.run(["train", "vae", "--recipe", Self.repo + "/Recipes/vae-tiny.json", "--data", dir + "/corpus",
                                      "--out", dir + "/ck", "--quiet"])
        XCTAssertEqual(t.status, 0, t.err)
        var mr: [Int: Double] = [:], evals: [[String: Double]] = []
        for line in try String(contentsOfFile: dir + "/ck/metrics.jsonl", encoding: .utf8).split(separator: "\n") {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            if let v = o["mrstft"] as? Double { mr[o["step"] as! Int] = v }
            if let e = o["eval"] as? [String: Double] { evals.append(e) }
        }
        XCTAssertEqual(mr.count, 150)
        let first = (1...5).map { mr[$0]! }.reduce(0, +) / 5, last = (146...150).map { mr[$0]! }.reduce(0, +) / 5
        XCTAssertGreaterThanOrEqual(first / last, 3, "MR-STFT loss \(first) → \(last)")
        XCTAssertEqual(evals.count, 3, "held-out metrics at each checkpoint")
        XCTAssertNotNil(evals.last?["si_sdr"])
        XCTAssertLessThan(evals.last!["mrstft"]!, evals.first!["mrstft"]!)
        let i = try TimbreBinary.run(["inspect", dir + "/ck"])
        XCTAssertTrue(i.out.contains("encoder.blocks.1.res.2.conv1.weight_v"), i.out)
        XCTAssertTrue(i.out.contains("decoder.conv_out.weight_g"), i.out)
    }
}
