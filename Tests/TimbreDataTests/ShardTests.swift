import Foundation
import XCTest
import TimbreTestSupport
import TimbreData

func python(_ script: String, _ args: [String]) throws -> [String: Any] {
    try TestSupport.python(script, args) as! [String: Any]
}

func tempDir(_ tag: String) -> String { TestSupport.tempDir(tag) }

final class ShardTests: XCTestCase {
    var dir: String!
    override func setUp() { dir = tempDir("shards") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func meta(_ i: Int) -> ClipMeta {
        ClipMeta(utterance_id: "u\(i)", speaker: "spk\(i % 2)", text: "ünïcode line \(i) [S1] ✓", description: "a calm voice",
                 language: "en", variant: "v\(i)", attributes: #"{"gender":"female","native_rate":22050}"#)
    }

    func testAudioShardWrittenByTimbreReadsInH5py() throws {
        let w = AudioShardWriter()
        let clips: [[Float]] = [(0..<1000).map { Float($0 % 200) / 400 - 0.25 }, [], [0.5, -1.5, 2]]
        for (i, c) in clips.enumerated() { w.add(c, meta(i)) }
        let path = dir + "/a.audio.h5"
        try w.write(path)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["a.audio.h5"], "no temporary file left")
        let s = try AudioShard(path)
        XCTAssertEqual(s.count, 3)
        XCTAssertEqual(s.metas, (0..<3).map(meta))
        XCTAssertEqual(try s.clip(2), [0.5, -1, 32767.0 / 32768], "clipped to int16")
        let r = try python("shards.py", ["read", path])
        XCTAssertEqual(r["format"] as? String, "timbre.audio")
        XCTAssertEqual(r["sample_rate"] as? Int, 44100)
        XCTAssertEqual(r["dtype"] as? String, "int16")
        XCTAssertEqual(r["offsets"] as? [Int], [0, 1000, 1000, 1003])
        XCTAssertEqual(r["text"] as? [String], (0..<3).map { meta($0).text })
        let sums = r["clip_sums"] as! [Double]
        for i in 0..<3 { XCTAssertEqual(sums[i], try s.clip(i).reduce(0.0) { $0 + Double($1) * 32768 }, accuracy: 1e-6) }
    }

    func testShardWrittenByH5pyEarliestReadsInTimbre() throws {
        let path = dir + "/py.audio.h5"
        let r = try python("shards.py", ["write-audio", path])
        let s = try AudioShard(path)
        XCTAssertEqual(s.count, 3)
        XCTAssertEqual(s.metas[0].text, "héllo wörld")
        XCTAssertEqual(s.metas[1].text, "[S1] hi [S2] there")
        XCTAssertEqual(s.metas[0].attributes, #"{"gender":"female"}"#)
        let sums = r["clip_sums"] as! [Double]
        for i in 0..<3 { XCTAssertEqual(try s.clip(i).reduce(0.0) { $0 + Double($1) * 32768 }, sums[i], accuracy: 1e-6) }
        // a crop past the clip's end is zero-padded
        var buf = [Float](repeating: 9, count: 8)
        try buf.withUnsafeMutableBufferPointer { try s.read(clip: 2, from: 1, count: 8, into: $0.baseAddress!) }
        XCTAssertEqual(Array(buf[2...]), [0, 0, 0, 0, 0, 0])
    }

    func testCorruptShardsAreRejectedNamingFileAndProblem() throws {
        let cases = [("offsets", "/offsets is not monotonic"), ("missing", "dataset /speaker is missing"),
                     ("format", "format attribute is 'timbre.latent', expected 'timbre.audio'"), ("nan", "not finite")]
        for (kind, fragment) in cases {
            let path = dir + "/\(kind).audio.h5"
            _ = try python("shards.py", ["write-bad", path, kind])
            XCTAssertThrowsError(try AudioShard(path), kind) { e in
                XCTAssertTrue("\(e)".hasPrefix(path), "\(e)")
                XCTAssertTrue("\(e)".contains(fragment), "\(kind): \(e)")
            }
        }
        let junk = dir + "/junk.audio.h5"
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: junk))
        XCTAssertThrowsError(try AudioShard(junk)) { XCTAssertTrue("\($0)".contains("not an HDF5 file"), "\($0)") }
        XCTAssertThrowsError(try AudioShard(dir + "/none.h5")) { XCTAssertTrue("\($0)".contains("no such file"), "\($0)") }
    }

    func testLatentShardRoundTripAndH5py() throws {
        let path = dir + "/l.latent.h5"
        let lat: [[Float]] = [(0..<12).map(Float.init), (0..<6).map { -Float($0) }]
        let info = LatentShardInfo(vaeCheckpoint: String(repeating: "ab", count: 32), hop: 2048, mean: [0.5, -1, 2], std: [1, 2, 3])
        try LatentShardWriter.write(path, latents: lat, dim: 3, metas: [meta(0), meta(1)], info: info)
        let s = try LatentShard(path)
        XCTAssertEqual(s.info, info)
        XCTAssertEqual(s.frameOffsets, [0, 4, 6])
        XCTAssertEqual(Array(s.clip(1)), lat[1])
        let r = try python("shards.py", ["read", path])
        XCTAssertEqual(r["format"] as? String, "timbre.latent")
        XCTAssertEqual(r["latents_shape"] as? [Int], [6, 3])
        XCTAssertEqual(r["hop"] as? Int, 2048)
        XCTAssertEqual(r["latent_std"] as? [Double], [1, 2, 3])
        XCTAssertEqual(r["latents_sum"] as? Double, 66 - 15)
    }
}
