import Foundation
import TimbreAudio
import TimbreDSP
import TimbreTensor

/// Sources outside Debian main (recipes must set `"opt_in": true`; `Recipes/corpus.sh` enables
/// contrib/non-free and installs the tools when a recipe asks for them).
extension Sources {
    static let rhvoiceVoices: [String: (String, String)] = ["alan": ("male", "Scottish"), "bdl": ("male", "American"),
                                                            "clb": ("female", "American"), "slt": ("female", "American"),
                                                            "evgeniy-eng": ("male", "Russian")]

    /// RHVoice English voices (non-free).
    static func rhvoice(_ s: SourceSpec, seed: UInt64) throws -> [ClipJob] {
        guard toolExists("RHVoice-test") else { throw DataError.io("RHVoice-test", "not installed (apt-get install rhvoice rhvoice-english, non-free)") }
        var jobs: [ClipJob] = []
        for voice in (s.voices ?? ["alan", "bdl", "clb", "slt", "evgeniy-eng"]).prefix(s.speakers ?? 99) {
            let (gender, accent) = rhvoiceVoices[voice] ?? ("male", "American")
            let speaker = "rhvoice-\(voice)"
            for line in 0..<(s.lines ?? 10) {
                let text = Sentences.sentence(seed: seed ^ fnv1a(speaker), index: line)
                let id = "\(speaker)-\(String(format: "%04d", line))"
                jobs.append(ClipJob(id: id, speaker: speaker, gender: gender, accent: accent, language: "en", text: text, source: "rhvoice",
                                    licence: "RHVoice voice licences (non-free), synthetic", synthetic: true) { tmp in
                    let out = "\(tmp)/\(id).wav"
                    try runTool("RHVoice-test", ["-p", voice, "-o", out], input: text)
                    return out
                })
            }
        }
        return jobs
    }

    /// SVOX Pico (pico2wave, non-free): en-US and en-GB female voices.
    static func pico(_ s: SourceSpec, seed: UInt64) throws -> [ClipJob] {
        guard toolExists("pico2wave") else { throw DataError.io("pico2wave", "not installed (apt-get install libttspico-utils, non-free)") }
        var jobs: [ClipJob] = []
        for voice in (s.voices ?? ["en-US", "en-GB"]).prefix(s.speakers ?? 99) {
            let speaker = "pico-\(voice)"
            for line in 0..<(s.lines ?? 10) {
                let text = Sentences.sentence(seed: seed ^ fnv1a(speaker), index: line)
                let id = "\(speaker)-\(String(format: "%04d", line))"
                jobs.append(ClipJob(id: id, speaker: speaker, gender: "female", accent: voice == "en-GB" ? "British" : "American",
                                    language: "en", text: text, source: "pico", licence: "SVOX Pico licence (non-free), synthetic",
                                    synthetic: true) { tmp in
                    let out = "\(tmp)/\(id).wav"
                    try runTool("pico2wave", ["-l", voice, "-w", out, text])
                    return out
                })
            }
        }
        return jobs
    }

    /// The Ur-Quan Masters' voice acting (non-commercial, CC BY-NC-SA 2.5). One .ogg holds several
    /// transcript lines; the `.ts` file gives each line's duration in ms. Each line becomes a clip,
    /// its cut points moved to the quietest 10 ms frame within ±300 ms. Speakers are the races.
    static func uqm(_ s: SourceSpec, cache: String) throws -> [ClipJob] {
        guard toolExists("unzip") else { throw DataError.io("unzip", "not installed (apt-get install unzip)") }
        let voice = try debPackage("uqm-voice", cache: cache), content = try debPackage("uqm-content", cache: cache)
        let root = "\(cache)/uqm-unpacked"
        if !FileManager.default.fileExists(atPath: "\(root)/.done") {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try runTool("unzip", ["-q", "-o", "\(voice)/usr/share/games/uqm/content/addons/uqm-0.8.0-voice.uqm", "-d", root])
            try runTool("unzip", ["-q", "-o", "\(content)/usr/share/games/uqm/content/packages/uqm-0.8.0-content.uqm", "base/comm/*", "-d", root])
            _ = FileManager.default.createFile(atPath: "\(root)/.done", contents: nil)
        }
        var jobs: [ClipJob] = []
        let races = ((try? FileManager.default.contentsOfDirectory(atPath: "\(root)/3dovoice")) ?? []).filter {
            FileManager.default.fileExists(atPath: "\(root)/3dovoice/\($0)/\($0).ts")
        }.sorted()
        for race in races.prefix(s.speakers ?? races.count) {
            let dir = "\(root)/3dovoice/\(race)"
            let txtPath = FileManager.default.fileExists(atPath: "\(dir)/\(race).txt") ? "\(dir)/\(race).txt" : "\(root)/base/comm/\(race)/\(race).txt"
            guard let txt = try? String(contentsOfFile: txtPath, encoding: .utf8),
                  let ts = try? String(contentsOfFile: "\(dir)/\(race).ts", encoding: .utf8) else { continue }
            let timings = parseUQMTimings(ts)
            var count = 0
            for entry in parseUQMTranscript(txt) {
                guard let file = entry.file, let t = timings[entry.key], !entry.lines.isEmpty else { continue }
                let path = "\(dir)/\(file)"
                guard FileManager.default.fileExists(atPath: path) else { continue }
                // line i spans cumulative durations; extra lines beyond the timings join the last segment
                let n = min(entry.lines.count, t.count + 1)
                var texts = Array(entry.lines.prefix(n))
                if entry.lines.count > n { texts[n - 1] += " " + entry.lines[n...].joined(separator: " ") }
                for (i, text) in texts.enumerated() {
                    if let cap = s.max_clips, count >= cap { break }
                    count += 1
                    let start = t.prefix(i).reduce(0, +), end: Int? = i < n - 1 ? start + t[i] : nil
                    let id = "uqm-\(race)-\(entry.key.lowercased())-\(i)"
                    jobs.append(ClipJob(id: id, speaker: "uqm-\(race)", gender: nil, accent: "alien (\(race))", language: "en", text: text,
                                        source: "uqm-voice", licence: "CC BY-NC-SA 2.5 (non-commercial)", synthetic: false,
                                        extra: ["uqm_file": file]) { tmp in
                        let a = try AudioFile.read(path)
                        let seg = cutAtPauses(a.samples, rate: a.sampleRate, startMs: start, endMs: end)
                        let out = "\(tmp)/\(id).wav"
                        try AudioFile.write(Audio(samples: seg, sampleRate: a.sampleRate), to: out, format: .wavFloat)
                        return out
                    })
                }
            }
        }
        return jobs
    }

    /// `#(KEY) 2593,5649,…` → durations in ms per line.
    public static func parseUQMTimings(_ ts: String) -> [String: [Int]] {
        var out: [String: [Int]] = [:]
        for line in ts.split(separator: "\n") {
            guard line.hasPrefix("#("), let close = line.firstIndex(of: ")") else { continue }
            let key = String(line[line.index(line.startIndex, offsetBy: 2)..<close])
            let nums = line[line.index(after: close)...].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            if !nums.isEmpty { out[key] = nums }
        }
        return out
    }

    /// `#(KEY)<tab>file.ogg` followed by text lines until a blank line or the next key.
    public static func parseUQMTranscript(_ txt: String) -> [(key: String, file: String?, lines: [String])] {
        var out: [(String, String?, [String])] = []
        for raw in txt.components(separatedBy: "\n") {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.hasPrefix("#("), let close = line.firstIndex(of: ")") {
                let key = String(line[line.index(line.startIndex, offsetBy: 2)..<close])
                let rest = line[line.index(after: close)...].trimmingCharacters(in: .whitespaces)
                out.append((key, rest.hasSuffix(".ogg") ? rest : nil, []))
            } else if !line.isEmpty, !out.isEmpty {
                out[out.count - 1].2.append(line)
            }
        }
        return out
    }

    /// Samples between two times, each cut moved to the quietest 10 ms frame within ±300 ms.
    public static func cutAtPauses(_ x: [Float], rate: Int, startMs: Int, endMs: Int?) -> [Float] {
        let frame = rate / 100
        func snap(_ ms: Int) -> Int {
            let center = ms * rate / 1000
            var best = center, bestE = Float.infinity
            var p = max(0, center - 3 * rate / 10)
            while p + frame <= min(x.count, center + 3 * rate / 10) {
                var e: Float = 0
                for j in p..<(p + frame) { e += x[j] * x[j] }
                if e < bestE { bestE = e; best = p + frame / 2 }
                p += frame / 2
            }
            return min(max(0, best), x.count)
        }
        let a = startMs == 0 ? 0 : snap(startMs)
        let b = endMs.map(snap) ?? x.count
        return b > a ? Array(x[a..<b]) : []
    }
}
