import Foundation
import TimbreFormats
import TimbreMetrics

/// One report: the systems scored (checkpoints, anchors, a baseline), the clips with audio, and
/// the training curves, written as `metrics.json` (machines), `report.md` and `report.html`
/// (people; audio players, spectrograms, SVG curves). Paths inside the HTML are relative, so the
/// folder can be moved or served as is.
public struct Report {
    public var title: String
    public var setup: [(String, String)]
    public var systems: [SystemScore]
    /// Index into `systems` of the one shown per speaker and per clip.
    public var main: Int
    /// Clips with audio: id, speaker, text, and for each version (label, wav path, png path, metrics).
    public var examples: [(id: String, speaker: String, text: String, versions: [(label: String, wav: String, png: String, metrics: [String: Double])])] = []
    /// Training curves: (title, [(series name, [(step, value)])]).
    public var curves: [(title: String, series: [(String, [(Double, Double)])])] = []
    public var notes: [String] = []
    /// Further sections: title, Markdown body, HTML body.
    public var sections: [(title: String, markdown: String, html: String)] = []
    /// Extra top-level values for metrics.json.
    public var extra: [String: Any] = [:]

    public init(title: String, setup: [(String, String)], systems: [SystemScore], main: Int) {
        self.title = title; self.setup = setup; self.systems = systems; self.main = main
    }

    static let labels: [String: String] = [
        "si_sdr": "SI-SDR (dB)", "mel": "mel distance", "stft": "STFT distance", "mrstft": "MR-STFT distance",
        "stoi": "STOI", "estoi": "ESTOI", "voiced_recall": "voiced frames kept", "f0_within_5pct": "F0 within 5 %", "f0_best_within_5pct": "best period within 5 %", "aperiodicity": "aperiodicity", "f0_rmse": "F0 RMSE (Hz)",
        "speaker_sim": "speaker similarity", "loudness_gap": "loudness gap (LU)",
    ]
    static var columns: [(name: String, label: String, up: Bool)] {
        (Reconstruction.metrics + PitchAgreement.metrics + [("speaker_sim", true), ("loudness_gap", false)]).map { ($0.name, labels[$0.name] ?? $0.name, $0.higherIsBetter) }
    }

    public static func fmt(_ v: Double?) -> String {
        guard let v, v.isFinite else { return "–" }
        return abs(v) >= 100 ? String(format: "%.1f", v) : String(format: "%.3f", v)
    }

    // MARK: machines

    public func json() throws -> Data {
        var systemsOut: [[String: Any]] = []
        for s in systems {
            var o: [String: Any] = ["name": s.name, "overall": s.overall, "per_speaker": s.perSpeaker,
                                    "clips": s.clips.map { ["id": $0.id, "speaker": $0.speaker, "source": $0.source,
                                                            "environment": $0.environment, "seconds": $0.seconds, "metrics": $0.metrics] }]
            if let c = s.checkpoint { o["checkpoint"] = c }
            if let st = s.step { o["step"] = st }
            systemsOut.append(o)
        }
        var obj: [String: Any] = ["title": title, "setup": Dictionary(setup, uniquingKeysWith: { a, _ in a }), "systems": systemsOut]
        if !systems.isEmpty { obj["main"] = systems[main].name }
        obj.merge(extra) { a, _ in a }
        return try JSONSerialization.data(withJSONObject: JSONNumbers.finite(obj), options: [.prettyPrinted, .sortedKeys])
    }

    // MARK: people

    public func markdown() -> String {
        var md = "# \(title)\n\n"
        for (k, v) in setup { md += "- **\(k)**: \(v)\n" }
        for sec in sections { md += "\n## \(sec.title)\n\n\(sec.markdown)\n" }
        guard !systems.isEmpty else { return md + listenMarkdown() + (notes.isEmpty ? "" : "\n## Notes\n\n" + notes.map { "- \($0)\n" }.joined()) }
        md += "\n## Overall (mean over clips)\n\n"
        md += "| system | " + Self.columns.map { "\($0.label) \($0.up ? "↑" : "↓")" }.joined(separator: " | ") + " |\n"
        md += "|---|" + String(repeating: "---:|", count: Self.columns.count) + "\n"
        for s in systems {
            let o = s.overall
            md += "| \(s.name) | " + Self.columns.map { Self.fmt(o[$0.name]) }.joined(separator: " | ") + " |\n"
        }
        md += "\n## Per speaker — \(systems[main].name)\n\n"
        md += "| speaker | clips | " + Self.columns.map(\.label).joined(separator: " | ") + " |\n"
        md += "|---|---:|" + String(repeating: "---:|", count: Self.columns.count) + "\n"
        let groups = Dictionary(grouping: systems[main].clips, by: \.speaker)
        for spk in groups.keys.sorted() {
            let m = SystemScore.mean(groups[spk]!)
            md += "| \(spk) | \(groups[spk]!.count) | " + Self.columns.map { Self.fmt(m[$0.name]) }.joined(separator: " | ") + " |\n"
        }
        if !notes.isEmpty { md += "\n## Notes\n\n" + notes.map { "- \($0)\n" }.joined() }
        return md
    }

    /// A table in both forms: Markdown (the first `leftColumns` columns left-aligned, the rest
    /// right-aligned) and HTML.
    public static func table(_ header: [String], _ rows: [[String]], leftColumns: Int = 1) -> (markdown: String, html: String) {
        var md = "| " + header.joined(separator: " | ") + " |\n|"
        md += header.indices.map { $0 < leftColumns ? "---|" : "---:|" }.joined() + "\n"
        var html = "<table><tr>" + header.map { "<th>\(esc($0))</th>" }.joined() + "</tr>"
        for r in rows {
            md += "| " + r.joined(separator: " | ") + " |\n"
            html += "<tr>" + r.map { "<td>\(esc($0))</td>" }.joined() + "</tr>"
        }
        return (md, html + "</table>")
    }

    /// The clips with audio, as a list (the HTML has players; Markdown links the files).
    func listenMarkdown() -> String {
        guard !examples.isEmpty else { return "" }
        return "\n## Listen\n\n" + examples.map { e in
            "- **\(e.id)** (\(e.speaker)): \(e.text) — " + e.versions.map { "[\($0.label)](\($0.wav))" }.joined(separator: ", ") + "\n"
        }.joined()
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    func table(_ rows: [(String, Int?, [String: Double])], withCount: Bool) -> String {
        var h = "<table><tr><th>\(withCount ? "speaker" : "system")</th>" + (withCount ? "<th>clips</th>" : "")
        h += Self.columns.map { "<th>\(Self.esc($0.label)) \($0.up ? "↑" : "↓")</th>" }.joined() + "</tr>\n"
        for (name, n, m) in rows {
            h += "<tr><td>\(Self.esc(name))</td>" + (n.map { "<td>\($0)</td>" } ?? "")
            h += Self.columns.map { "<td>\(Self.fmt(m[$0.name]))</td>" }.joined() + "</tr>\n"
        }
        return h + "</table>\n"
    }

    public func html() -> String {
        var h = """
            <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>\(Self.esc(title))</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
            table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
            td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}
            .clip{border-top:1px solid #ddd;padding:1em 0}.versions{display:flex;gap:1em;flex-wrap:wrap}
            .version{flex:1;min-width:300px}.version img{width:100%;height:160px;image-rendering:pixelated;border:1px solid #ccc}
            .small{color:#666;font-size:13px}svg{background:#fff;border:1px solid #ddd;margin:0.5em 0.5em 0 0}
            </style></head><body>
            <h1>\(Self.esc(title))</h1>
            <ul>\(setup.map { "<li><b>\(Self.esc($0.0))</b>: \(Self.esc($0.1))</li>" }.joined())</ul>

            """
        for sec in sections { h += "<h2>\(Self.esc(sec.title))</h2>\n\(sec.html)\n" }
        if !systems.isEmpty { h += "<h2>Overall (mean over clips)</h2>\n" + table(systems.map { ($0.name, nil, $0.overall) }, withCount: false) }
        if !notes.isEmpty { h += "<ul class=\"small\">" + notes.map { "<li>\(Self.esc($0))</li>" }.joined() + "</ul>\n" }
        if !curves.isEmpty {
            h += "<h2>Training</h2>\n<div>" + curves.map { svg(title: $0.title, series: $0.series) }.joined() + "</div>\n"
        }
        let groups = systems.isEmpty ? [:] : Dictionary(grouping: systems[main].clips, by: \.speaker)
        if !systems.isEmpty { h += "<h2>Per speaker — \(Self.esc(systems[main].name))</h2>\n"
        h += table(groups.keys.sorted().map { ($0, groups[$0]!.count, SystemScore.mean(groups[$0]!)) }, withCount: true) }
        if !examples.isEmpty {
            h += "<h2>Listen</h2>\n<p class=\"small\">Spectrograms: 0–22 kHz, linear frequency, 80 dB range; each pair shares the original's scale.</p>\n"
            for e in examples {
                h += "<div class=\"clip\"><b>\(Self.esc(e.id))</b> — \(Self.esc(e.speaker))<div class=\"small\">\(Self.esc(e.text))</div><div class=\"versions\">"
                for v in e.versions {
                    let m = Self.columns.compactMap { c in v.metrics[c.name].map { "\(c.label) \(Self.fmt($0))" } }.joined(separator: " · ")
                    h += "<div class=\"version\"><div>\(Self.esc(v.label))</div><audio controls preload=\"none\" src=\"\(Self.esc(v.wav))\"></audio>"
                    h += "<img src=\"\(Self.esc(v.png))\" alt=\"spectrogram of \(Self.esc(v.label))\"><div class=\"small\">\(Self.esc(m))</div></div>"
                }
                h += "</div></div>\n"
            }
        }
        return h + "<p class=\"small\">Written by timbre eval. Definitions: docs/design.md §6 (SI-SDR; DAC mel and STFT distances; the training MR-STFT loss; STOI/ESTOI as pystoi).</p></body></html>\n"
    }

    /// Overlaid histograms (40 bins over the values' range) as inline SVG.
    public func histogram(title: String, _ groups: [(String, [Double])]) -> String {
        let all = groups.flatMap(\.1)
        guard let lo = all.min(), let hi = all.max(), hi > lo else { return "" }
        let bins = 40
        var series: [(String, [(Double, Double)])] = []
        for (name, v) in groups {
            var h = [Double](repeating: 0, count: bins)
            for x in v { h[min(bins - 1, Int((x - lo) / (hi - lo) * Double(bins)))] += 1 / Double(max(v.count, 1)) }
            series.append((name, h.enumerated().map { (lo + (Double($0.offset) + 0.5) * (hi - lo) / Double(bins), $0.element) }))
        }
        return svg(title: title, series: series, xLabel: "cosine (fraction of trials per bin)")
    }

    /// A line chart as inline SVG (log-free, auto-scaled axes, one colour per series).
    public func svg(title: String, series: [(String, [(Double, Double)])], xLabel: String = "step") -> String {
        let W = 560.0, H = 260.0, L = 56.0, R = 12.0, T = 24.0, B = 32.0
        let pts = series.flatMap(\.1)
        guard let x0 = pts.map(\.0).min(), let x1 = pts.map(\.0).max(), let y0 = pts.map(\.1).min(), let y1 = pts.map(\.1).max() else { return "" }
        let xs = x1 > x0 ? x1 - x0 : 1, ys = y1 > y0 ? y1 - y0 : 1
        func px(_ x: Double) -> Double { L + (x - x0) / xs * (W - L - R) }
        func py(_ y: Double) -> Double { H - B - (y - y0) / ys * (H - T - B) }
        let colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(W))\" height=\"\(Int(H))\" font-size=\"11\">"
        s += "<text x=\"\(L)\" y=\"15\" font-weight=\"bold\">\(Self.esc(title))</text>"
        s += "<line x1=\"\(L)\" y1=\"\(H - B)\" x2=\"\(W - R)\" y2=\"\(H - B)\" stroke=\"#999\"/><line x1=\"\(L)\" y1=\"\(T)\" x2=\"\(L)\" y2=\"\(H - B)\" stroke=\"#999\"/>"
        for k in 0...4 {
            let y = y0 + ys * Double(k) / 4, x = x0 + xs * Double(k) / 4
            s += "<text x=\"\(L - 4)\" y=\"\(py(y) + 4)\" text-anchor=\"end\">\(Self.fmt(y))</text>"
            s += "<text x=\"\(px(x))\" y=\"\(H - B + 14)\" text-anchor=\"middle\">\(xs >= 20 ? String(Int(x)) : Self.fmt(x))</text>"
        }
        s += "<text x=\"\((L + W - R) / 2)\" y=\"\(H - 4)\" text-anchor=\"middle\">\(Self.esc(xLabel))</text>"
        for (i, (name, p)) in series.enumerated() where !p.isEmpty {
            let c = colours[i % colours.count]
            let d = p.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(c)\" stroke-width=\"1.5\" points=\"\(d)\"/>"
            if p.count <= 30 && xLabel == "step" { for q in p { s += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%@\"/>", px(q.0), py(q.1), c) } }
            s += "<text x=\"\(W - R - 4)\" y=\"\(T + 14 * Double(i + 1))\" text-anchor=\"end\" fill=\"\(c)\">\(Self.esc(name))</text>"
        }
        return s + "</svg>"
    }

    /// Writes metrics.json, report.md and report.html into `dir` (atomically, each).
    public func write(to dir: String) throws {
        try FileIO.writeAtomically(try json(), to: dir + "/metrics.json")
        try FileIO.writeAtomically(Data(markdown().utf8), to: dir + "/report.md")
        try FileIO.writeAtomically(Data(html().utf8), to: dir + "/report.html")
    }
}

/// Training curves from a run's metrics.jsonl: the loss (smoothed over 50 steps) and each held-out metric.
public func trainingCurves(_ metricsPath: String) -> [(title: String, series: [(String, [(Double, Double)])])] {
    guard let text = try? String(contentsOfFile: metricsPath, encoding: .utf8) else { return [] }
    var loss: [(Double, Double)] = [], evals: [String: [(Double, Double)]] = [:]
    for line in text.split(separator: "\n") {
        guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let step = o["step"] as? Double else { continue }
        if let e = o["eval"] as? [String: Any] {
            for (k, v) in e where k != "clips" { if let d = v as? Double, d.isFinite { evals[k, default: []].append((step, d)) } }
        } else if let l = o["loss"] as? Double, l.isFinite {
            loss.append((step, l))
        }
    }
    var out: [(title: String, series: [(String, [(Double, Double)])])] = []
    if !loss.isEmpty {
        let w = 50
        var smooth: [(Double, Double)] = []
        var acc = 0.0
        for (i, p) in loss.enumerated() {
            acc += p.1
            if i >= w { acc -= loss[i - w].1 }
            if i >= w - 1 || i == loss.count - 1, i % max(1, loss.count / 400) == 0 { smooth.append((p.0, acc / Double(min(i + 1, w)))) }
        }
        out.append(("training loss (mean of 50 steps)", [("loss", smooth)]))
    }
    for k in evals.keys.sorted() { out.append(("held-out \(Report.labels[k] ?? k)", [(k, evals[k]!)])) }
    return out
}
