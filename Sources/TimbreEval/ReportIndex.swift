import Foundation
import TimbreFormats

/// A front page over several report folders (each written by `timbre eval`): their titles and
/// headline numbers, links, and — for `samples` reports — the generated audio inline.
public enum ReportIndex {
    public struct Entry {
        public var link: String, title: String, headline: String
        public var samples: [(task: String, script: String, description: String, wav: String)]
    }

    /// `path` relative to `base` when it lies inside it, else absolute (links must work from `base`).
    static func relative(_ path: String, to base: String) -> String {
        let p = URL(fileURLWithPath: path).standardizedFileURL.path, b = URL(fileURLWithPath: base).standardizedFileURL.path
        return p.hasPrefix(b + "/") ? String(p.dropFirst(b.count + 1)) : p
    }

    public static func entry(_ dir: String, relativeTo base: String) throws -> Entry {
        let path = dir + "/metrics.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EvalError.io(path, "no metrics.json (is \(dir) a folder written by timbre eval?)")
        }
        guard let o = try JSONSerialization.jsonObject(with: data) as? [String: Any], let title = o["title"] as? String else {
            throw EvalError.invalid(path, "expected an object with a \"title\"")
        }
        let link = relative(dir, to: base)
        let samples = (o["samples"] as? [[String: Any]] ?? []).map {
            (task: $0["task"] as? String ?? "", script: $0["script"] as? String ?? "", description: $0["description"] as? String ?? "",
             wav: link + "/" + ($0["wav"] as? String ?? ""))
        }
        return Entry(link: link + "/report.html", title: title, headline: o["headline"] as? String ?? "", samples: samples)
    }

    /// Writes `index.md` and `index.html` into `dir` (atomically each).
    public static func write(to dir: String, title: String, notes: [String], reports: [String]) throws {
        let entries = try reports.map { try entry($0, relativeTo: dir) }
        let esc = Report.esc
        var md = "# \(title)\n\n" + notes.map { "> \($0)\n>\n" }.joined() + "\n"
        var h = """
            <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>\(esc(title))</title>
            <style>body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1000px;padding:0 1em;color:#222}
            .note{background:#fff6d6;border-left:4px solid #e0b000;padding:0.6em 1em;margin:1em 0}
            .report{border-top:1px solid #ddd;padding:0.8em 0}.small{color:#666;font-size:13px}
            .sample{margin:0.4em 0}audio{vertical-align:middle;height:32px}</style></head><body>
            <h1>\(esc(title))</h1>

            """
        for n in notes { h += "<div class=\"note\">\(esc(n))</div>\n" }
        for e in entries {
            md += "## [\(e.title)](\(e.link))\n\n\(e.headline)\n\n"
            h += "<div class=\"report\"><h2><a href=\"\(esc(e.link))\">\(esc(e.title))</a></h2><div>\(esc(e.headline))</div>\n"
            for s in e.samples {
                md += "- \(s.task): “\(s.script)” — \(s.description) ([wav](\(s.wav)))\n"
                h += "<div class=\"sample\"><audio controls preload=\"none\" src=\"\(esc(s.wav))\"></audio> <b>\(esc(s.task))</b>: “\(esc(s.script))” <span class=\"small\">\(esc(s.description))</span></div>\n"
            }
            if !e.samples.isEmpty { md += "\n" }
            h += "</div>\n"
        }
        h += "<p class=\"small\">Written by timbre report-index \(ISO8601DateFormatter().string(from: Date())).</p></body></html>\n"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileIO.writeAtomically(Data(md.utf8), to: dir + "/index.md")
        try FileIO.writeAtomically(Data(h.utf8), to: dir + "/index.html")
    }
}
