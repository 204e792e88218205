/// A set of layer indices, written `"0-3,7"` (inclusive ranges) or as a list of integers.
public struct LayerSelection: Sendable, Equatable {
    /// The selected layers, ascending, without repeats.
    public let indices: [Int]

    /// Selects `indices` (sorted, duplicates removed).
    public init(indices: [Int]) { self.indices = Array(Set(indices)).sorted() }

    /// Parses `"0-3,7"`: comma-separated indices and inclusive `a-b` ranges (spaces allowed).
    /// - Returns: nil when the text is not of that form or a range runs backwards.
    public init?(parsing text: String) {
        var result: [Int] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: " ") }
            guard (1...2).contains(bounds.count), let first = Int(bounds[0]), first >= 0 else { return nil }
            let last = bounds.count == 2 ? Int(bounds[1]) : first
            guard let last, last >= first, last - first < 1 << 20 else { return nil }
            result += Array(first...last)
        }
        self.init(indices: result)
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        String(drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}
