import ArgumentParser
import Foundation
import TimbreFormats

/// `--json FILE`: the command's result as JSON, for scripts and tests (the printed lines are for
/// people and may change wording).
struct JSONReportOption: ParsableArguments {
    @Option(help: "Also write the result as JSON to this file.")
    var json: String?

    /// Writes `value` (sorted keys, atomically) when `--json` was given; a non-finite number is
    /// written as the string "nan", "inf" or "-inf".
    func write<V: Encodable>(_ value: V) throws {
        guard let json else { return }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try FileIO.writeAtomically(try enc.encode(value), to: json)
    }
}
