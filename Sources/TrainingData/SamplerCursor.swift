import Foundation

/// Where a `BatchSampler` stands (schema `Schemas/sampler-cursor.schema.json`): saved with each training
/// checkpoint so that a resumed run draws exactly the batches an uninterrupted run would have drawn.
public struct SamplerCursor: Codable, Equatable, Sendable {
    public var version = 1
    /// Seed the sampler was created with (permutations derive from it).
    public var seed: UInt64
    /// Tokens per training sequence T (windows hold T + 1).
    public var sequenceLength: Int
    /// Batches drawn so far.
    public var step: Int
    /// SplitMix64 state of the domain draws, as 16 lowercase hex digits.
    public var randomState: String
    /// Current mixture weights, in `domains` order.
    public var weights: [Double]
    /// Tokenizer identity of the data directory the cursor belongs to.
    public var tokenizerIdentity: String
    public var domains: [DomainPosition]

    /// A domain's position in its token stream: the document at `document` of epoch `epoch`'s permutation,
    /// `offset` tokens in.
    public struct DomainPosition: Codable, Equatable, Sendable {
        public var name: String
        /// Training documents of the domain (to detect a different data directory).
        public var documents: Int
        public var epoch: Int
        public var document: Int
        public var offset: Int
    }

    /// Canonical JSON bytes (sorted keys, snake_case).
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return Array(try encoder.encode(self)) + [0x0A]
    }

    /// Decodes a cursor written by `encoded()`.
    /// - Throws: `TrainingDataError.cursorMismatch` for malformed JSON.
    public static func decode(_ bytes: [UInt8]) throws(TrainingDataError) -> SamplerCursor {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do { return try decoder.decode(SamplerCursor.self, from: Data(bytes)) } catch {
            throw .cursorMismatch(problem: "cannot decode the cursor: \(error)")
        }
    }
}
