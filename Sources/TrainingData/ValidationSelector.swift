import CPlatform

/// Chooses held-out validation documents by a stable hash of their text, independent of input order and of
/// the other documents: a document is held out when `hash(text) < fraction·2⁶⁴`. A domain left with fewer than
/// `minimumDocuments` held-out documents also holds out its lowest-hash training documents (keeping at least
/// one for training); `DataPreparation` moves those after the pass (`Candidates`).
public struct ValidationSelector: Sendable {
    public let fraction: Double
    public let minimumDocuments: Int
    /// Hashes below this are held out.
    public let threshold: UInt64

    public init(fraction: Double, minimumDocuments: Int) throws(TrainingDataError) {
        guard fraction >= 0, fraction < 1 else { throw .invalidOption("--val-fraction must lie in [0, 1), got \(fraction)") }
        guard minimumDocuments >= 0 else { throw .invalidOption("--val-min-docs must be ≥ 0, got \(minimumDocuments)") }
        self.fraction = fraction
        self.minimumDocuments = minimumDocuments
        threshold = fraction == 0 ? 0 : UInt64(min(fraction * 18_446_744_073_709_551_616.0, 18_446_744_073_709_549_568.0))
    }

    /// The rule's name in `index.json` (`validation.hash`).
    public static let hashName = "xxh64"

    /// XXH64 (seed 0) of the UTF-8 text: stable, well mixed and far cheaper than a cryptographic hash (SHA-256 of every
    /// document was 3.5 % of prepare-data's CPU time). Directories prepared by earlier versions record
    /// `sha256-prefix64` (the first 8 bytes of SHA-256, big-endian).
    public static func hash(_ text: String) -> UInt64 {
        var copy = text
        return copy.withUTF8 { hash(utf8: $0) }
    }

    /// `hash` of text given as UTF-8 bytes.
    public static func hash(utf8 bytes: UnsafeBufferPointer<UInt8>) -> UInt64 { moekit_xxh64(bytes.baseAddress, bytes.count, 0) }

    /// Whether a document of this hash is held out by the fraction rule.
    public func holdsOut(_ hash: UInt64) -> Bool { hash < threshold }

    /// How many lowest-hash training documents to move so a domain of `total` documents with `heldOut` held out
    /// reaches `minimumDocuments` while keeping one training document.
    public func extraDocuments(total: Int, heldOut: Int) -> Int {
        max(0, min(minimumDocuments, total - 1) - heldOut)
    }

    /// The `minimumDocuments` lowest (hash, document index) pairs among training documents seen so far.
    public struct Candidates: Sendable {
        public let capacity: Int
        /// Ascending.
        public private(set) var entries: [(hash: UInt64, index: Int)] = []

        public init(capacity: Int) { self.capacity = capacity }

        public mutating func offer(hash: UInt64, index: Int) {
            guard capacity > 0 else { return }
            if entries.count == capacity {
                guard let last = entries.last, (hash, index) < (last.hash, last.index) else { return }
                entries.removeLast()
            }
            let position = entries.firstIndex { (hash, index) < ($0.hash, $0.index) } ?? entries.count
            entries.insert((hash, index), at: position)
        }
    }
}
