import Foundation
import TimbreFormats

/// Learning-rate schedules, as multipliers of the optimizer's `lr`:
/// - `constant`: 1 after a linear warm-up;
/// - `cosine`: linear warm-up over `warmup_steps`, then a half cosine from 1 down to
///   `min_lr_ratio` at the last step;
/// - `inverse_sqrt`: linear warm-up, then `√(warmup / step)`.
public struct ScheduleConfig: Codable, Sendable {
    public var kind: String
    public var warmup_steps: Int?
    public var min_lr_ratio: Double?

    public static let kinds = ["constant", "cosine", "inverse_sqrt"]

    public init(kind: String, warmup_steps: Int? = nil, min_lr_ratio: Double? = nil) {
        self.kind = kind; self.warmup_steps = warmup_steps; self.min_lr_ratio = min_lr_ratio
    }

    func validate(file: String) throws {
        guard Self.kinds.contains(kind) else {
            throw FormatError.invalidValue(file: file, path: "training.schedule.kind", reason: "unknown schedule '\(kind)' (one of \(Self.kinds.joined(separator: ", ")))")
        }
        if let w = warmup_steps, w < 0 { throw FormatError.invalidValue(file: file, path: "training.schedule.warmup_steps", reason: "must be ≥ 0") }
        if let m = min_lr_ratio, !(m >= 0 && m <= 1) {
            throw FormatError.invalidValue(file: file, path: "training.schedule.min_lr_ratio", reason: "must be in [0, 1], got \(m)")
        }
    }

    /// Multiplier for update number `step` (1-based) of `total`.
    public func factor(step: Int, total: Int) -> Double {
        let w = warmup_steps ?? 0
        if w > 0 && step <= w { return Double(step) / Double(w) }
        switch kind {
        case "cosine":
            let floor = min_lr_ratio ?? 0
            let span = max(1, total - w)
            let p = min(1, Double(step - w) / Double(span))
            return floor + (1 - floor) * 0.5 * (1 + cos(Double.pi * p))
        case "inverse_sqrt":
            return w > 0 ? (Double(w) / Double(step)).squareRoot() : 1 / Double(step).squareRoot()
        default:
            return 1
        }
    }
}
