/// UTF-8 byte tokens with specials (docs/design.md §3.5): `<bos> bytes <eos>`.
public enum ByteTokens {
    public static func encode(_ text: String) -> [Int] { [DiTConfig.bos] + text.utf8.map(Int.init) + [DiTConfig.eos] }
    /// Rows padded with `<pad>` to the longest (empty rows stay all padding).
    public static func pad(_ rows: [[Int]]) -> [[Int]] {
        let L = rows.map(\.count).max() ?? 0
        return rows.map { $0 + [Int](repeating: DiTConfig.pad, count: L - $0.count) }
    }
}
