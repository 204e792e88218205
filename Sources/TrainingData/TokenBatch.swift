/// A training batch: `size` windows of `sequenceLength + 1` tokens each, row-major, and the domain of each row.
/// Row r's inputs are `tokens[r·(T+1) ..< r·(T+1)+T]`, its targets the same shifted by one.
public struct TokenBatch: Equatable, Sendable {
    public let sequenceLength: Int
    public let size: Int
    public var tokens: [Int32]
    /// Domain index (into the data directory's domains) of each row.
    public var domains: [Int]

    public init(sequenceLength: Int, size: Int, tokens: [Int32], domains: [Int]) {
        self.sequenceLength = sequenceLength
        self.size = size
        self.tokens = tokens
        self.domains = domains
    }

    /// The T input ids of row `row`.
    public func inputs(row: Int) -> ArraySlice<Int32> {
        let start = row * (sequenceLength + 1)
        return tokens[start..<(start + sequenceLength)]
    }

    /// The T target ids of row `row` (inputs shifted by one).
    public func targets(row: Int) -> ArraySlice<Int32> {
        let start = row * (sequenceLength + 1) + 1
        return tokens[start..<(start + sequenceLength)]
    }
}
