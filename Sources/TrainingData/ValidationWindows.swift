/// Fixed validation windows of a domain: its validation documents in stored order, packed back to back and cut
/// into windows of T + 1 tokens with stride T (as training windows), the same on every evaluation.
public enum ValidationWindows {
    /// Up to `limit` windows of `sequenceLength + 1` tokens. A domain with fewer than T + 1 validation tokens
    /// (but at least 2) gives one shorter window of all its tokens, so that every domain gets a loss.
    public static func make(_ dataset: IndexedDataset, sequenceLength: Int, limit: Int = .max) -> [[Int32]] {
        var stream: [Int32] = []
        let needed = limit == .max ? Int.max : limit * sequenceLength + 1
        for index in 0..<dataset.count where stream.count < needed { stream += dataset.sequence(index) }
        var windows: [[Int32]] = []
        var start = 0
        while windows.count < limit, start + sequenceLength + 1 <= stream.count {
            windows.append(Array(stream[start..<(start + sequenceLength + 1)]))
            start += sequenceLength
        }
        if windows.isEmpty, stream.count >= 2, limit > 0 { windows.append(stream) }
        return windows
    }
}
