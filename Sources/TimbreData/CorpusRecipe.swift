import Foundation
import TimbreAudio
import TimbreFormats

/// A corpus recipe (`Datasets/NAME.json`), read strictly.
public struct CorpusRecipe: Codable, Sendable {
    public var name: String
    public var seed: UInt64?
    public var sources: [SourceSpec]
    /// Environment variants of a fraction of the clean utterances (voice-tuning pairs).
    public var environments: EnvironmentSpec?
    /// Pace/pitch variants (sox tempo/pitch) of a fraction of the clean utterances.
    public var pace_pitch: PacePitchSpec?
    public var held_out: HeldOutSpec?
    /// Audio per shard before a new shard starts (default 1800 s).
    public var shard_seconds: Double?
    /// Clips longer than this are skipped and counted (default 20 s).
    public var max_clip_seconds: Double?

    public static func load(_ path: String) throws -> CorpusRecipe {
        let r = try StrictJSON.decode(CorpusRecipe.self, fromFile: path)
        for (i, s) in r.sources.enumerated() {
            guard SourceSpec.kinds.contains(s.kind) else {
                throw FormatError.invalidValue(file: path, path: "sources[\(i)].kind", reason: "unknown source '\(s.kind)' (one of \(SourceSpec.kinds.joined(separator: ", ")))")
            }
            if SourceSpec.optIn.contains(s.kind) && s.opt_in != true {
                throw FormatError.invalidValue(file: path, path: "sources[\(i)].opt_in",
                                               reason: "'\(s.kind)' is outside Debian main (\(SourceSpec.licenceNote[s.kind] ?? "")); set \"opt_in\": true to use it")
            }
        }
        for (i, e) in (r.environments?.kinds ?? []).enumerated() where Environment(rawValue: e) == nil {
            throw FormatError.invalidValue(file: path, path: "environments.kinds[\(i)]",
                                           reason: "unknown environment '\(e)' (one of \(Environment.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return r
    }
}

public struct SourceSpec: Codable, Sendable {
    /// espeak, flite, festival, asterisk, fillets (Debian main); mbrola, rhvoice, pico, uqm (opt-in).
    public var kind: String
    /// espeak: base voices (accents), e.g. "en-us"; flite: voice names; mbrola: mb-… voices.
    public var voices: [String]?
    /// espeak: variants, e.g. "m1", "f3".
    public var variants: [String]?
    /// Cap on speakers taken from this source.
    public var speakers: Int?
    /// Synthetic sources: lines per speaker.
    public var lines: Int?
    /// fillets: languages of the voice tracks ("cs", "nl").
    public var languages: [String]?
    /// Real sources: cap on clips (fillets: per language; uqm: per character).
    public var max_clips: Int?
    /// Must be true for sources outside Debian main (licence or section).
    public var opt_in: Bool?

    public static let kinds = ["espeak", "flite", "festival", "asterisk", "fillets", "mbrola", "rhvoice", "pico", "uqm"]
    public static let optIn: Set<String> = ["mbrola", "rhvoice", "pico", "uqm"]
    static let licenceNote = ["mbrola": "contrib/non-free voices", "rhvoice": "non-free", "pico": "non-free",
                              "uqm": "CC BY-NC-SA 2.5, non-commercial"]
}

public struct EnvironmentSpec: Codable, Sendable {
    public var kinds: [String]
    /// Fraction of clean utterances that get variants (default 0.3).
    public var fraction: Double?
    /// Variants per chosen utterance (default 1).
    public var per_utterance: Int?
}

public struct PacePitchSpec: Codable, Sendable {
    public var fraction: Double
    /// sox tempo factors to choose from (e.g. [0.8, 1.25]).
    public var tempo: [Double]?
    /// sox pitch shifts in cents (e.g. [-300, 300]).
    public var pitch: [Double]?
}

public struct HeldOutSpec: Codable, Sendable {
    /// Speakers held out entirely (chosen deterministically from the seed).
    public var speakers: Int?
    /// Fraction of each remaining speaker's utterances held out (with all their variants).
    public var utterance_fraction: Double?
    public init(speakers: Int?, utterance_fraction: Double?) { self.speakers = speakers; self.utterance_fraction = utterance_fraction }
}

/// Recording environments and their sox effect chains (listed below), applied after resampling to
/// 44.1 kHz.
public enum Environment: String, CaseIterable, Sendable {
    case clean, small_room, hall, telephone, noisy, distant, radio

    public var soxChain: [String] {
        switch self {
        case .clean: return []
        case .small_room: return ["reverb", "30", "50", "20", "50", "0", "0", "pad", "0", "0.3"]
        case .hall: return ["reverb", "90", "30", "100", "100", "20", "0", "pad", "0", "1.2"]
        case .telephone: return ["sinc", "300-3400", "rate", "8000", "rate", "-v", "\(Audio.modelRate)"]
        case .noisy: return []  // mixed with brown noise in code
        case .distant: return ["lowpass", "3500", "reverb", "70", "60", "80", "vol", "0.5"]
        case .radio: return ["highpass", "500", "lowpass", "3000", "overdrive", "15"]
        }
    }

    /// How descriptions phrase it.
    public var phrases: [String] {
        switch self {
        case .clean: return ["in a quiet studio", "recorded close to the microphone", "in a clean, dry recording"]
        case .small_room: return ["in a small room", "in a small, slightly echoey room"]
        case .hall: return ["in a large echoey hall", "in a big reverberant hall"]
        case .telephone: return ["over a telephone line", "through a narrow-band phone connection"]
        case .noisy: return ["with background noise", "over a steady background hiss"]
        case .distant: return ["far from the microphone", "from across the room"]
        case .radio: return ["through a distorted radio", "like a crackling radio broadcast"]
        }
    }
}
