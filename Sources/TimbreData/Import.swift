import Foundation
import TimbreFormats

/// `timbre corpus import`: shards from a user's folder of recordings and a CSV or JSONL file of
/// transcripts. Columns/keys: `file` (path relative to the audio folder), `text`, and optionally
/// `speaker`, `description`, `language`, `gender`. Clips go through the same pipeline as built
/// corpora (44.1 kHz, measured F0 and speaking rate, attributes; descriptions from templates
/// where none is given), without loudness normalisation unless asked.
public enum CorpusImport {
    public struct Row: Sendable { public var file, text: String; public var speaker, description, language, gender: String? }

    public static func readMetadata(_ path: String) throws -> [Row] {
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError.io(path, "cannot read metadata file") }
        let text = String(decoding: data, as: UTF8.self)
        var rows: [[String: String]] = []
        if path.lowercased().hasSuffix(".jsonl") {
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
                guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    throw DataError.invalid(path, "line \(n + 1) is not a JSON object")
                }
                rows.append(o.compactMapValues { $0 as? String })
            }
        } else {
            let table = try parseCSV(text, file: path)
            guard let header = table.first else { throw DataError.invalid(path, "empty CSV") }
            for (n, r) in table.dropFirst().enumerated() {
                guard r.count == header.count else { throw DataError.invalid(path, "row \(n + 2) has \(r.count) fields, the header has \(header.count)") }
                rows.append(Dictionary(uniqueKeysWithValues: zip(header, r)))
            }
        }
        return try rows.enumerated().map { n, r in
            guard let f = r["file"], !f.isEmpty else { throw DataError.invalid(path, "entry \(n + 1) has no 'file'") }
            guard let t = r["text"], !t.isEmpty else { throw DataError.invalid(path, "entry \(n + 1) (\(f)) has no 'text'") }
            func opt(_ k: String) -> String? { r[k].flatMap { $0.isEmpty ? nil : $0 } }
            return Row(file: f, text: t, speaker: opt("speaker"), description: opt("description"), language: opt("language"), gender: opt("gender"))
        }
    }

    /// RFC 4180 CSV: quoted fields, doubled quotes, CRLF.
    static func parseCSV(_ s: String, file: String) throws -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = ""
        var inQuotes = false, i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if inQuotes {
                if c == "\"" {
                    let n = s.index(after: i)
                    if n < s.endIndex && s[n] == "\"" { field.append("\""); i = n } else { inQuotes = false }
                } else { field.append(c) }
            } else if c == "\"" { inQuotes = true }
            else if c == "," { row.append(field); field = "" }
            else if c == "\n" || c == "\r\n" { row.append(field); field = ""; rows.append(row); row = [] }
            else if c != "\r" { field.append(c) }
            i = s.index(after: i)
        }
        if inQuotes { throw DataError.invalid(file, "unterminated quoted field") }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows.map { $0.map { $0.trimmingCharacters(in: .whitespaces) } }
    }

    static func jobs(_ rows: [Row], audioDir: String) -> [ClipJob] {
        rows.enumerated().map { n, r in
            let inside = ConfinedPath.resolve(r.file, under: audioDir)
            let path = inside ?? r.file
            let speaker = r.speaker ?? "speaker"
            let stem = ((r.file as NSString).deletingPathExtension as NSString).lastPathComponent
            var j = ClipJob(id: "\(speaker)-\(String(format: "%05d", n))-\(stem)", speaker: speaker, gender: r.gender, accent: "unknown",
                            language: r.language ?? "en", text: r.text, source: "import", licence: "user data", synthetic: false) { _ in
                guard inside != nil else { throw DataError.invalid(r.file, "resolves outside the --audio folder \(audioDir); metadata files must name files inside it") }
                guard FileManager.default.fileExists(atPath: path) else { throw DataError.io(path, "no such audio file") }
                return path
            }
            if let d = r.description { j.extra["description"] = d }
            return j
        }
    }
}
