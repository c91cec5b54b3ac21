import ArgumentParser
import Foundation
import TimbreAudio

/// An error about what a file or a setting holds, found while running (exit 1, no usage text:
/// `ValidationError` is for the command line's shape).
struct InputError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Audio a command reads from the user: mixed to mono, at 44.1 kHz, finite (AudioFile.read checks)
/// and long enough for what the command does with it.
enum InputAudio {
    /// Reads `path` and resamples it to 44.1 kHz; fewer than `minSamples` samples (at 44.1 kHz) is
    /// an error saying what `purpose` needs.
    static func read(_ path: String, minSamples: Int, purpose: String) throws -> Audio {
        let raw = try AudioFile.read(path)
        let need = String(format: "%.3f s", Double(minSamples) / Double(Audio.modelRate))
        func tooShort(_ seconds: Double) -> InputError {
            InputError("\(path): \(String(format: "%.3f s", seconds)) of audio is too short: \(purpose) needs at least \(need) (\(minSamples) samples at 44.1 kHz)")
        }
        // Checked before resampling too: an empty or one-sample file is not worth resampling.
        guard raw.seconds * Double(Audio.modelRate) >= Double(minSamples) - 1 else { throw tooShort(raw.seconds) }
        let a = try Resampler.resample(raw, to: Audio.modelRate)
        guard a.samples.count >= minSamples else { throw tooShort(a.seconds) }
        return a
    }
}

/// A progress line on a terminal (stderr) for work that runs longer than 2 s; nothing when
/// stderr is a file or pipe, so logs and tests see only the result.
final class TerminalProgress {
    let label: String
    let start = Date()
    let enabled = isatty(2) != 0
    var shown = false, last = 0.0

    init(_ label: String) { self.label = label }

    func update(_ done: Int, _ total: Int, unit: String) {
        guard enabled else { return }
        let t = Date().timeIntervalSince(start)
        guard t >= 2, t - last >= 0.2 || done == total else { return }
        last = t
        let eta = done > 0 ? t / Double(done) * Double(total - done) : 0
        FileHandle.standardError.write(Data(String(format: "\r\u{1B}[K%@: %d/%d %@ (%.0f%%), %.0f s, about %.0f s left",
                                                        label, done, total, unit, 100 * Double(done) / Double(max(total, 1)), t, eta).utf8))
        shown = true
    }

    /// Clears the line.
    func finish() { if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) } }
}
