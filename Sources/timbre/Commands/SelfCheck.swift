import ArgumentParser
import TimbreGradCheck
import TimbreModelCases

struct SelfCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selfcheck",
        abstract: "Prove every layer's backward pass against Float64 central differences.",
        discussion: """
            Runs the same table of gradient checks as the test suite: each layer's input and \
            parameter gradients (parameters randomised) against central differences with step \
            1e-6, and prints the worst error per tensor. Exits non-zero if any check fails.
            """)

    @Option(help: "Elements checked per tensor (sampled when a tensor is larger).")
    var samples = 64

    @OptionGroup var report: JSONReportOption

    /// `--json`: every checked tensor and the totals.
    struct Result: Encodable {
        struct Row: Encodable { var `case`: String, tensor: String, checked: Int, rel_error: Double, tolerance: Double, scale: Double, passed: Bool }
        var rows: [Row], passed: Int, failed: Int, worst_rel_error: Double
    }

    mutating func run() throws {
        let (rows, failures) = GradCheck.runTable(LayerCases.all + ModelCases.all, maxPerTensor: samples)
        print(GradCheck.format(rows))
        let bad = rows.filter { !$0.passed }
        let worst = rows.map(\.relError).max() ?? 0
        print("\(rows.count - bad.count) passed, \(bad.count) failed (\(LayerCases.all.count) layer and \(ModelCases.all.count) loss/model cases; worst relative error \(GradCheck.sci(worst)))")
        try report.write(Result(rows: rows.map { .init(case: $0.caseName, tensor: $0.tensor, checked: $0.checked, rel_error: $0.relError,
                                                      tolerance: $0.tolerance, scale: $0.scale, passed: $0.passed) },
                                passed: rows.count - bad.count, failed: bad.count, worst_rel_error: worst))
        for f in failures { print("FAILED: \(f)") }
        if !failures.isEmpty { throw ExitCode(1) }
    }
}
