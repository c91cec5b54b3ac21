import Foundation
import XCTest
import TimbreAudio
import TimbreTensor
import TimbreData

/// Builds Datasets/tiny.json once (espeak-ng + sox, ~10 s) and checks the corpus, the loaders and
/// the import path.
final class CorpusTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    nonisolated(unsafe) static var built: (dir: String, manifest: CorpusManifest)?

    static func tiny() throws -> (dir: String, manifest: CorpusManifest) {
        if let b = built { return b }
        let dir = tempDir("tiny") + "/tiny"
        let b = try CorpusBuilder(recipePath: repo + "/Datasets/tiny.json", cache: tempDir("cache"))
        b.log = { _ in }
        let m = try b.build(out: dir)
        built = (dir, m)
        return (dir, m)
    }

    func testTinyCorpusHasSpeakersVariantsSplitsAndAttributes() throws {
        let (dir, m) = try Self.tiny()
        XCTAssertEqual(m.skipped.values.reduce(0, +), 0, "\(m.skipped_examples)")
        XCTAssertEqual(m.held_out_speakers.count, 2)
        let train = try CorpusSplit(dir: dir, split: "train"), test = try CorpusSplit(dir: dir, split: "test")
        XCTAssertGreaterThan(train.count, 80)
        XCTAssertGreaterThan(test.count, 5)
        let trainSpeakers = Set((0..<train.count).map { train.meta($0).speaker })
        for s in m.held_out_speakers { XCTAssertFalse(trainSpeakers.contains(s), "held-out speaker \(s) in train") }
        // a variant group never straddles the split
        let trainGroups = Set((0..<train.count).map { train.meta($0).variant })
        for i in 0..<test.count { XCTAssertFalse(trainGroups.contains(test.meta(i).variant)) }
        // attributes are complete JSON with measured values; environments and pace variants exist
        var envs = Set<String>(), groups: [String: Int] = [:]
        for i in 0..<train.count {
            let meta = train.meta(i)
            let a = try JSONDecoder().decode(ClipAttributes.self, from: Data(meta.attributes.utf8))
            envs.insert(a.environment)
            groups[meta.variant, default: 0] += 1
            XCTAssertEqual(a.native_rate, 22050)
            XCTAssertTrue(a.median_f0 > 50 && a.median_f0 < 400, "\(meta.utterance_id): F0 \(a.median_f0)")
            XCTAssertTrue(a.speaking_rate > 5 && a.speaking_rate < 40, "\(meta.utterance_id): rate \(a.speaking_rate)")
            XCTAssertFalse(meta.description.isEmpty)
            XCTAssertTrue(["male", "female"].contains(a.gender))
        }
        XCTAssertGreaterThanOrEqual(envs.count, 3, "\(envs)")
        XCTAssertTrue(groups.values.contains { $0 >= 2 }, "some utterances have variants")
        let info = try CorpusSummary(dir: dir, manifest: m).text
        XCTAssertTrue(info.contains("12 speakers"), info)
    }

    func testCropLoaderIsDeterministicWithAndWithoutPrefetch() throws {
        let (dir, _) = try Self.tiny()
        let split = try CorpusSplit(dir: dir)
        let a = try CropLoader(split: split, batchSize: 4, length: 8192, hop: 2048, seed: 9, prefetch: 3)
        let b = try CropLoader(split: split, batchSize: 4, length: 8192, hop: 2048, seed: 9, prefetch: 0)
        for step in 0..<6 { XCTAssertEqual(try a.batch(step).array, try b.batch(step).array, "batch \(step)") }
        let x = try b.batch(2)
        XCTAssertEqual(x.shape, [4, 1, 8192])
        XCTAssertTrue(x.array.contains { $0 != 0 })
        XCTAssertNotEqual(try b.batch(3).array, x.array)
        // an epoch visits every clip once
        let perm = EpochOrder(count: split.count, seed: 9).permutation(epoch: 4)
        XCTAssertEqual(perm.sorted(), Array(0..<split.count))
        XCTAssertThrowsError(try CropLoader(split: split, batchSize: 2, length: 1000, hop: 2048, seed: 1)) {
            XCTAssertTrue("\($0)".contains("multiple of the hop"), "\($0)")
        }
    }

    func testBucketsAndPairs() throws {
        let (dir, _) = try Self.tiny()
        let split = try CorpusSplit(dir: dir)
        let lengths = (0..<split.count).map { split.length($0) / 2048 }
        let s = BucketSampler(lengths: lengths, batchSize: 8, maxLength: 150, seed: 3)
        let epoch = s.batches(epoch: 0)
        XCTAssertEqual(epoch.flatMap { $0 }.sorted(), s.eligible.sorted(), "each eligible utterance once per epoch")
        XCTAssertEqual(s.batches(epoch: 1).count, epoch.count)
        XCTAssertNotEqual(s.batches(epoch: 1).map { $0.first! }, epoch.map { $0.first! })
        let (mask, L) = s.mask(epoch[0])
        XCTAssertEqual(L, epoch[0].map { lengths[$0] }.max())
        XCTAssertEqual(mask.filter { $0 }.count, epoch[0].map { lengths[$0] }.reduce(0, +))
        let metas = (0..<split.count).map(split.meta)
        let pairs = PairIndex(metas)
        var r = RandomStream(seed: 1)
        var tuning = 0, cloning = 0
        for i in 0..<metas.count {
            guard let (j, kind) = pairs.reference(for: i, preferTuning: true, &r) else { XCTFail("no reference for \(i)"); continue }
            XCTAssertNotEqual(i, j)
            XCTAssertEqual(metas[i].speaker, metas[j].speaker)
            if kind == .tuning { tuning += 1; XCTAssertEqual(metas[i].variant, metas[j].variant) } else {
                cloning += 1; XCTAssertNotEqual(metas[i].variant, metas[j].variant)
            }
        }
        XCTAssertGreaterThan(tuning, 0); XCTAssertGreaterThan(cloning, 0)
    }

    func testImportFromCSVSkipsCorruptFilesNamingThem() throws {
        let root = tempDir("import"), audio = root + "/audio"
        try FileManager.default.createDirectory(atPath: audio, withIntermediateDirectories: true)
        let sr = 16000
        func tone(_ f: Double, _ secs: Double) -> [Float] { (0..<Int(secs * Double(sr))).map { Float(0.3 * sin(2 * .pi * f * Double($0) / Double(sr))) } }
        try AudioFile.write(Audio(samples: tone(220, 1.5), sampleRate: sr), to: audio + "/a.wav")
        try AudioFile.write(Audio(samples: tone(140, 1.2), sampleRate: sr), to: audio + "/b.flac")
        try AudioFile.write(Audio(samples: tone(180, 2), sampleRate: sr), to: audio + "/c.wav")
        // truncate c.wav in the middle of its data
        let c = try Data(contentsOf: URL(fileURLWithPath: audio + "/c.wav"))
        try c.prefix(c.count / 2).write(to: URL(fileURLWithPath: audio + "/trunc.wav"))
        try AudioFile.write(Audio(samples: [Float](repeating: 0, count: 8000), sampleRate: sr), to: audio + "/silent.wav")
        let csv = """
        file,text,speaker,description
        a.wav,"Hello, world",alice,"A calm voice, close up."
        b.flac,Second line,bob,
        trunc.wav,Cut short,bob,
        silent.wav,Nothing,bob,
        missing.wav,Not there,bob,
        """
        try csv.write(toFile: root + "/meta.csv", atomically: true, encoding: .utf8)
        let rows = try CorpusImport.readMetadata(root + "/meta.csv")
        XCTAssertEqual(rows.count, 5)
        XCTAssertEqual(rows[0].text, "Hello, world")
        var warnings: [String] = []
        let b = CorpusBuilder(importRows: rows, audioDir: audio, name: "mine", heldOut: nil, loudness: nil, options: [:])
        b.log = { warnings.append($0) }
        let m = try b.build(out: root + "/corpus")
        XCTAssertEqual(m.skipped.values.reduce(0, +), 3, "\(m.skipped)")
        XCTAssertTrue(warnings.contains { $0.contains("trunc.wav") }, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("silent") }, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("missing.wav") && $0.contains("no such audio file") }, "\(warnings)")
        let split = try CorpusSplit(dir: root + "/corpus")
        XCTAssertEqual(split.count, 2)
        XCTAssertEqual(split.meta(0).description, "A calm voice, close up.")
        let a = try JSONDecoder().decode(ClipAttributes.self, from: Data(split.meta(0).attributes.utf8))
        XCTAssertEqual(a.median_f0, 220, accuracy: 2)
        XCTAssertEqual(a.native_rate, 16000)
        XCTAssertEqual(split.length(0), Int(1.5 * 44100), "resampled to 44.1 kHz")
        // malformed metadata is an error naming the file and the row
        try "file,text\na.wav\n".write(toFile: root + "/bad.csv", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CorpusImport.readMetadata(root + "/bad.csv")) { XCTAssertTrue("\($0)".contains("bad.csv: row 2 has 1 fields"), "\($0)") }
        XCTAssertThrowsError(try CorpusSplit(dir: root)) { XCTAssertTrue("\($0)".contains("no manifest.json"), "\($0)") }
    }
}

/// The script parsers of the real-recording sources, on inputs written here.
final class SourceParserTests: XCTestCase {
    func testFilletsDialogs() {
        let lua = """
        dialogId("vit-hs-a", "font_statue", "Welcome to the city.")
        dialogStr("Vítejte ve městě.")


        dialogId("vit-m-b", "font_small", "Say \\"hi\\".")

        dialogStr("Řekni \\"ahoj\\".")
        dialogId("no-str", "font_big", "Untranslated.")
        """
        let d = Sources.parseFilletsDialogs(lua)
        XCTAssertEqual(d.count, 2)
        XCTAssertEqual(d[0].id, "vit-hs-a"); XCTAssertEqual(d[0].font, "font_statue"); XCTAssertEqual(d[0].text, "Vítejte ve městě.")
        XCTAssertEqual(d[1].english, "Say \"hi\"."); XCTAssertEqual(d[1].text, "Řekni \"ahoj\".")
    }

    func testUQMTranscriptTimingsAndCuts() {
        let txt = "#(HELLO)\tsyreen-000.ogg\nFirst line.\nSecond line.\nThird line.\n\n#(player_line)\nNot voiced.\n"
        let entries = Sources.parseUQMTranscript(txt)
        XCTAssertEqual(entries.count, 2)
        XCTAssertEqual(entries[0].file, "syreen-000.ogg")
        XCTAssertEqual(entries[0].lines, ["First line.", "Second line.", "Third line."])
        XCTAssertNil(entries[1].file)
        XCTAssertEqual(Sources.parseUQMTimings("#(HELLO) 1000,1500\n#(EMPTY) \n")["HELLO"], [1000, 1500])
        // a tone with a silent gap at 0.95–1.05 s: a cut requested at 1.2 s moves into the gap
        let rate = 8000
        let x: [Float] = (0..<(3 * rate)).map { i in (i >= 7600 && i < 8400) ? 0 : Float(sin(Double(i) * 0.3)) }
        let seg = Sources.cutAtPauses(x, rate: rate, startMs: 0, endMs: 1200)
        XCTAssertTrue(abs(seg.count - 8000) < 400, "cut at \(seg.count)")
        XCTAssertEqual(Sources.cutAtPauses(x, rate: rate, startMs: 1200, endMs: nil).count + seg.count, x.count)
    }

    /// Descriptions read as sentences for every pitch and gender, including unknown ones.
    func testDescriptionsHaveNoGaps() throws {
        for (gender, pitch) in [("female", "unknown"), ("unknown", "unknown"), ("male", "low"), ("female", "high")] {
            let json = """
                {"gender":"\(gender)","gender_source":"label","accent":"Dutch","pitch":"\(pitch)","median_f0":0,"speed":"slow",
                 "speaking_rate":10,"environment":"clean","tempo":1,"pitch_shift_cents":0,"source":"x","licence":"x",
                 "synthetic":false,"native_rate":44100,"native_channels":1}
                """
            let a = try JSONDecoder().decode(ClipAttributes.self, from: Data(json.utf8))
            for k in 0..<64 {
                var r = RandomStream(seed: UInt64(k), 1, 2)
                let d = Descriptions.make(a, &r)
                XCTAssertFalse(d.contains("  "), "double space: \(d)")
                XCTAssertFalse(d.contains(", voice,") || d.contains(" an D"), "\(d)")
                if pitch == "unknown" { XCTAssertFalse(d.contains("pitched") || d.contains("deep") || d.contains("bright"), d) }
            }
        }
    }
}
