import Foundation
import TimbreTensor

/// One clean utterance to produce: who speaks it, what is said, and how to get its audio file.
struct ClipJob: Sendable {
    var id: String
    var speaker: String
    /// "male"/"female" when the source says so; nil → estimated from median F0.
    var gender: String?
    var accent: String
    var language: String
    var text: String
    var source: String
    var licence: String
    var synthetic: Bool
    var extra: [String: String] = [:]
    /// Writes (or finds) the source audio; returns its path.
    var produce: @Sendable (_ tmpDir: String) throws -> String
}

/// Runs an external tool, failing with its stderr.
@discardableResult
func runTool(_ tool: String, _ args: [String], input: String? = nil) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [tool] + args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    let inPipe = Pipe()
    if input != nil { p.standardInput = inPipe } else { p.standardInput = FileHandle.nullDevice }
    do { try p.run() } catch { throw DataError.io(tool, "cannot run (\(error.localizedDescription)); install it with apt-get") }
    if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)); try? inPipe.fileHandleForWriting.close() }
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw DataError.io(tool, "exited with \(p.terminationStatus): \(String(decoding: e, as: UTF8.self).prefix(300))")
    }
    return String(decoding: o, as: UTF8.self)
}

func toolExists(_ tool: String) -> Bool {
    (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        .contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
}

/// Downloads a Debian package's .deb with `apt-get download` into `cache` and unpacks it (no
/// installation, no root needed for the files themselves). Returns the unpacked root.
func debPackage(_ name: String, cache: String) throws -> String {
    let root = "\(cache)/\(name)"
    if FileManager.default.fileExists(atPath: "\(root)/.unpacked") { return root }
    let debs = "\(cache)/debs"
    try FileManager.default.createDirectory(atPath: debs, withIntermediateDirectories: true)
    let existing = try FileManager.default.contentsOfDirectory(atPath: debs).first { $0.hasPrefix(name + "_") && $0.hasSuffix(".deb") }
    var deb = existing
    if deb == nil {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["apt-get", "download", name]
        p.currentDirectoryURL = URL(fileURLWithPath: debs)
        p.standardOutput = FileHandle.nullDevice
        let err = Pipe(); p.standardError = err
        try p.run()
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        deb = try FileManager.default.contentsOfDirectory(atPath: debs).first { $0.hasPrefix(name + "_") && $0.hasSuffix(".deb") }
        guard p.terminationStatus == 0 || deb != nil, deb != nil else {
            throw DataError.io(name, "apt-get download failed (run apt-get update first?): \(e.prefix(300))")
        }
    }
    try? FileManager.default.removeItem(atPath: root)
    try runTool("dpkg-deb", ["-x", "\(debs)/\(deb!)", root])
    _ = FileManager.default.createFile(atPath: "\(root)/.unpacked", contents: nil)
    return root
}

public enum Sources {
    static let femaleMbrola: Set<String> = ["mb-us1", "mb-de1-en", "mb-de3-en", "mb-de5-en", "mb-fr4-en", "mb-hu1-en", "mb-sw2-en", "mb-pl1-en"]
    static let espeakAccents = ["mb-us1": "American", "mb-us2": "American", "mb-us3": "American", "mb-en1": "British",
                                "mb-de1-en": "German", "mb-fr1-en": "French", "mb-fr4-en": "French","en-us": "American", "en-gb": "British", "en-gb-scotland": "Scottish",
                                "en-gb-x-gbclan": "Lancashire", "en-gb-x-rp": "Received Pronunciation", "en-gb-x-gbcwmd": "West Midlands",
                                "en-029": "Caribbean", "en-us-nyc": "New York"]

    /// espeak-ng: speakers are (accent voice, variant) pairs with a per-speaker rate and pitch.
    static func espeak(_ s: SourceSpec, seed: UInt64) throws -> [ClipJob] {
        guard toolExists("espeak-ng") else { throw DataError.io("espeak-ng", "not installed (apt-get install espeak-ng)") }
        let voices = s.voices ?? ["en-us", "en-gb"], variants = s.variants ?? ["m1", "f1"]
        var pairs: [(String, String)] = []
        for v in voices { for x in variants { pairs.append((v, x)) } }
        var r = RandomStream(seed: seed, 0xE5)
        r.shuffle(&pairs)
        if let cap = s.speakers { pairs = Array(pairs.prefix(cap)) }
        var jobs: [ClipJob] = []
        for (voice, variant) in pairs.sorted(by: { ($0.0, $0.1) < ($1.0, $1.1) }) {
            let speaker = variant.isEmpty ? "espeak-\(voice)" : "espeak-\(voice)-\(variant)"
            let voiceArg = variant.isEmpty ? voice : "\(voice)+\(variant)"
            var sr = RandomStream(seed: seed, fnv1a(speaker))
            let wpm = 140 + sr.int(below: 60), pitch = 25 + sr.int(below: 50)
            let gender = variant.hasPrefix("f") || femaleMbrola.contains(voice) ? "female" : "male"
            for line in 0..<(s.lines ?? 10) {
                let text = Sentences.sentence(seed: seed ^ fnv1a(speaker), index: line)
                let id = "\(speaker)-\(String(format: "%04d", line))"
                jobs.append(ClipJob(id: id, speaker: speaker, gender: gender, accent: espeakAccents[voice] ?? voice, language: "en",
                                    text: text, source: "espeak-ng", licence: "GPL-3+ (espeak-ng), synthetic", synthetic: true,
                                    extra: ["voice": voiceArg, "wpm": String(wpm), "espeak_pitch": String(pitch)]) { tmp in
                    let out = "\(tmp)/\(id).wav"
                    try runTool("espeak-ng", ["-v", voiceArg, "-s", String(wpm), "-p", String(pitch), "-w", out, "--", text])
                    return out
                })
            }
        }
        return jobs
    }

    static let fliteVoices: [String: (String, String)] = ["kal": ("male", "American"), "awb": ("male", "Scottish"),
                                                          "rms": ("male", "American"), "slt": ("female", "American")]

    static func flite(_ s: SourceSpec, seed: UInt64) throws -> [ClipJob] {
        guard toolExists("flite") else { throw DataError.io("flite", "not installed (apt-get install flite)") }
        var jobs: [ClipJob] = []
        for voice in (s.voices ?? ["kal", "awb", "rms", "slt"]).prefix(s.speakers ?? 99) {
            let (gender, accent) = fliteVoices[voice] ?? ("male", "American")
            let speaker = "flite-\(voice)"
            for line in 0..<(s.lines ?? 10) {
                let text = Sentences.sentence(seed: seed ^ fnv1a(speaker), index: line)
                let id = "\(speaker)-\(String(format: "%04d", line))"
                jobs.append(ClipJob(id: id, speaker: speaker, gender: gender, accent: accent, language: "en", text: text,
                                    source: "flite", licence: "BSD-like (flite), synthetic", synthetic: true) { tmp in
                    let out = "\(tmp)/\(id).wav"
                    try runTool("flite", ["-voice", voice, "-t", text, "-o", out])
                    return out
                })
            }
        }
        return jobs
    }

    static func festival(_ s: SourceSpec, seed: UInt64) throws -> [ClipJob] {
        guard toolExists("text2wave") else { throw DataError.io("festival", "not installed (apt-get install festival festvox-kallpc16k)") }
        var jobs: [ClipJob] = []
        for voice in (s.voices ?? ["kal_diphone"]).prefix(s.speakers ?? 99) {
            let speaker = "festival-\(voice)"
            for line in 0..<(s.lines ?? 10) {
                let text = Sentences.sentence(seed: seed ^ fnv1a(speaker), index: line)
                let id = "\(speaker)-\(String(format: "%04d", line))"
                jobs.append(ClipJob(id: id, speaker: speaker, gender: voice.contains("slt") ? "female" : "male", accent: "American",
                                    language: "en", text: text, source: "festival", licence: "festival/festvox licence, synthetic",
                                    synthetic: true) { tmp in
                    let out = "\(tmp)/\(id).wav", txt = "\(tmp)/\(id).txt"
                    try text.write(toFile: txt, atomically: true, encoding: .utf8)
                    try runTool("text2wave", ["-eval", "(voice_\(voice))", "-o", out, txt])
                    return out
                })
            }
        }
        return jobs
    }

    /// Asterisk's English prompts (Allison, 8 kHz telephone recordings) with their transcripts.
    static func asterisk(_ s: SourceSpec, cache: String) throws -> [ClipJob] {
        let wavRoot = try debPackage("asterisk-core-sounds-en-wav", cache: cache)
        let docRoot = try debPackage("asterisk-core-sounds-en", cache: cache)
        let listPath = "\(docRoot)/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"
        let list = try runTool("gzip", ["-dc", listPath])
        let base = "\(wavRoot)/usr/share/asterisk/sounds/en_US_f_Allison"
        var jobs: [ClipJob] = []
        for line in list.split(separator: "\n") {
            guard !line.hasPrefix(";"), let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
            let text = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            // bracketed entries are tones and effects, not speech
            guard !text.isEmpty, !text.contains("["), text.unicodeScalars.contains(where: { CharacterSet.letters.contains($0) }) else { continue }
            let file = "\(base)/\(name).wav"
            guard FileManager.default.fileExists(atPath: file) else { continue }
            jobs.append(ClipJob(id: "asterisk-allison-\(name.replacingOccurrences(of: "/", with: "_"))", speaker: "asterisk-allison",
                                gender: "female", accent: "American", language: "en", text: text, source: "asterisk-core-sounds-en",
                                licence: "CC-BY-SA-3.0", synthetic: false) { _ in file })
        }
        return Array(jobs.prefix(s.max_clips ?? jobs.count))
    }

    /// Fish Fillets NG voice tracks (Czech, Dutch) with their scripts. The two fish are the main
    /// speakers; other characters are speakers per level.
    static func fillets(_ s: SourceSpec, cache: String) throws -> [ClipJob] {
        let scripts = try debPackage("fillets-ng-data", cache: cache)
        var jobs: [ClipJob] = []
        for lang in s.languages ?? ["cs", "nl"] {
            var langJobs: [ClipJob] = []
            defer { jobs += langJobs.prefix(s.max_clips ?? langJobs.count) }
            let root = try debPackage("fillets-ng-data-\(lang)", cache: cache)
            let scriptDir = "\(scripts)/usr/share/games/fillets-ng/script"
            let soundDir = "\(root)/usr/share/games/fillets-ng/sound"
            let levels = (try? FileManager.default.contentsOfDirectory(atPath: scriptDir))?.sorted() ?? []
            for level in levels {
                guard let lua = try? String(contentsOfFile: "\(scriptDir)/\(level)/dialogs_\(lang).lua", encoding: .utf8) else { continue }
                for d in parseFilletsDialogs(lua) {
                    let file = "\(soundDir)/\(level)/\(lang)/\(d.id).ogg"
                    guard FileManager.default.fileExists(atPath: file) else { continue }
                    let who = d.font.replacingOccurrences(of: "font_", with: "")
                    let speaker = who == "small" || who == "big" ? "fillets-\(lang)-\(who)" : "fillets-\(lang)-\(level)-\(who)"
                    langJobs.append(ClipJob(id: "fillets-\(lang)-\(level)-\(d.id)", speaker: speaker, gender: nil,
                                        accent: lang == "cs" ? "Czech" : "Dutch", language: lang, text: d.text, source: "fillets-ng-data-\(lang)",
                                        licence: "GPL-2", synthetic: false, extra: ["gloss_en": d.english]) { _ in file })
                }
            }
        }
        return jobs
    }

    /// `dialogId("ID", "font_X", "English")` followed by `dialogStr("translation")`.
    public static func parseFilletsDialogs(_ lua: String) -> [(id: String, font: String, english: String, text: String)] {
        var out: [(String, String, String, String)] = []
        let lines = lua.components(separatedBy: "\n")
        var i = 0
        func strings(_ s: String) -> [String] {
            var res: [String] = [], cur = "", inside = false, escape = false
            for ch in s {
                if inside {
                    if escape { cur.append(ch); escape = false } else if ch == "\\" { escape = true } else if ch == "\"" { res.append(cur); cur = ""; inside = false } else { cur.append(ch) }
                } else if ch == "\"" { inside = true }
            }
            return res
        }
        while i < lines.count {
            let l = lines[i]
            if l.hasPrefix("dialogId(") {
                let a = strings(l)
                var j = i + 1
                while j < lines.count && lines[j].trimmingCharacters(in: .whitespaces).isEmpty { j += 1 }
                if a.count >= 3, j < lines.count, lines[j].hasPrefix("dialogStr(") {
                    var t = lines[j]
                    while !t.trimmingCharacters(in: .whitespaces).hasSuffix(")") && j + 1 < lines.count { j += 1; t += " " + lines[j] }
                    if let text = strings(t).first, !text.isEmpty { out.append((a[0], a[1], a[2], text)) }
                }
                i = j
            }
            i += 1
        }
        return out
    }
}
