import TimbreTensor

/// Deterministic English sentences for the synthetic voices: template sentences over small word
/// lists (written for this project), varied in length and structure, a pure function of a seed
/// and an index. The real recordings bring their own scripts.
public enum Sentences {
    static let subjects = ["the old sailor", "my neighbour", "a young doctor", "the tired driver", "our teacher", "the small child",
                           "a quiet farmer", "the new engineer", "her brother", "the night nurse", "a travelling singer",
                           "the baker", "his grandmother", "the station master", "a careful pilot", "the museum guide"]
    static let verbs = ["carried", "painted", "found", "repaired", "counted", "described", "borrowed", "forgot", "delivered",
                        "cleaned", "measured", "wrapped", "collected", "returned", "opened", "ordered"]
    static let objects = ["seven lanterns", "a wooden box", "the broken clock", "three green bottles", "an old map",
                          "the heavy suitcase", "a bundle of letters", "twelve blue cups", "the garden gate", "a silver key",
                          "the kitchen window", "forty paper boats", "a basket of apples", "the last train ticket"]
    static let places = ["across the quiet harbour", "before the storm arrived", "behind the railway station",
                         "under the bright lights", "on a cold Sunday morning", "near the river bank", "at the top of the hill",
                         "during the long winter", "inside the empty theatre", "after the market closed", "along the narrow street"]
    static let openers = ["Yesterday", "Every evening", "Last summer", "Without a word", "Later that night", "At nine o'clock",
                          "For the first time", "Once again", "Just after lunch"]
    static let questions = ["Did you see where", "Do you know why", "Can you remember when", "Who told you that"]
    static let feelings = ["I can hardly believe it", "That is wonderful news", "Please be careful", "We should leave soon",
                           "It was a lovely day", "Nobody expected that", "Let me think about it", "Thank you very much"]

    static func pick(_ a: [String], _ r: inout RandomStream) -> String { a[r.int(below: a.count)] }

    public static func sentence(seed: UInt64, index: Int) -> String {
        var r = RandomStream(seed: seed, UInt64(index), 0x5E47)
        let s = pick(subjects, &r), v = pick(verbs, &r), o = pick(objects, &r), p = pick(places, &r)
        func cap(_ t: String) -> String { t.prefix(1).uppercased() + t.dropFirst() }
        switch r.int(below: 6) {
        case 0: return "\(cap(s)) \(v) \(o) \(p)."
        case 1: return "\(pick(openers, &r)), \(s) \(v) \(o)."
        case 2: return "\(pick(questions, &r)) \(s) \(v) \(o)?"
        case 3: return "\(pick(feelings, &r)). \(cap(s)) \(v) \(o) \(p)."
        case 4: return "\(cap(s)) \(v) \(o), and \(pick(subjects, &r)) \(pick(verbs, &r)) \(pick(objects, &r))."
        default: return "\(pick(feelings, &r))!"
        }
    }
}
