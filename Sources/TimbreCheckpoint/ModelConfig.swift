import Foundation
import TimbreFormats

/// A recipe's `model` section: checked before anything is built, so a zero, negative or absurd
/// size is a named error instead of a trap or an allocation the machine cannot make.
public protocol ModelConfig: Codable, Sendable {
    /// What is wrong with the values, one "key: problem" each; empty when the model can be built.
    func validate() -> [String]
    /// Parameters the model will hold (an estimate within a few percent: it sizes the memory check).
    var parameterEstimate: Double { get }
}

extension ModelConfig {
    /// `validate` as an error naming the file (`model.` before each key).
    public func check(file: String) throws {
        let problems = validate()
        if !problems.isEmpty {
            throw FormatError.invalidValue(file: file, path: "model", reason: problems.map { $0.hasPrefix("model.") ? $0 : "model.\($0)" }.joined(separator: "; "))
        }
    }
}

/// Bounds and the memory check the model configurations share.
public enum ModelLimits {
    /// `key` must be an integer in `range`; returns the problem, or nil.
    public static func check(_ value: Int, _ key: String, _ range: ClosedRange<Int>) -> String? {
        range.contains(value) ? nil : "\(key) must be in \(range.lowerBound)…\(range.upperBound), got \(value)"
    }
    public static func check(_ values: [Int], _ key: String, _ range: ClosedRange<Int>, count: ClosedRange<Int>) -> String? {
        if !count.contains(values.count) { return "\(key) must list \(count.lowerBound)…\(count.upperBound) values, got \(values.count)" }
        if let v = values.first(where: { !range.contains($0) }) { return "\(key) values must be in \(range.lowerBound)…\(range.upperBound), got \(v)" }
        return nil
    }

    /// This machine's physical memory in bytes.
    public static var physicalMemory: Double { Double(sysconf(Int32(_SC_PHYS_PAGES))) * Double(sysconf(Int32(_SC_PAGESIZE))) }

    /// Throws when `bytes` (what `what` would allocate) exceed 90 % of the machine's memory.
    public static func requireMemory(_ bytes: Double, for what: String, file: String) throws {
        let have = physicalMemory
        guard bytes <= 0.9 * have else {
            throw FormatError.invalidValue(file: file, path: "model", reason: String(format: "%@ would need about %.1f GiB; this machine has %.1f GiB", what, bytes / 1073741824, have / 1073741824))
        }
    }

    /// Bytes training holds per parameter: value, gradient, two AdamW moments, EMA (float32).
    public static let trainingBytesPerParameter = 20.0
}

/// The `recipe.json` stored with a checkpoint or release, as inference reads it: the model type,
/// seed and `model` section, decoded strictly; the sections only training reads (`training`,
/// `losses`, `data`, `adversarial`) are kept as JSON without being interpreted, so that loading a
/// model for generation needs none of the training code's types.
public struct StoredRecipe<Model: ModelConfig>: Codable, Sendable {
    public var model_type: String
    public var seed: UInt64?
    public var model: Model
    public var training: JSONValue?
    public var losses: JSONValue?
    public var data: JSONValue?
    public var adversarial: JSONValue?
}
