import Foundation

/// `index.json` of a prepared data directory (schema `Schemas/data-index.schema.json`): what was read, with which
/// tokenizer, and where each domain's training and validation tokens are.
public struct DataIndex: Codable, Equatable, Sendable {
    /// Always `moekit-data`.
    public var format = "moekit-data"
    public var version = 1
    public var moekitVersion: String
    public var tokenizer: TokenizerRecord
    /// Token id type of every `.bin` (`uint16` or `int32`) and its Megatron `DType` code.
    public var dtype: String
    public var dtypeCode: Int
    public var textField: String
    public var domainField: String?
    public var validation: ValidationRule
    public var inputs: [InputRecord]
    public var domains: [DomainRecord]
    public var documents: Int
    public var tokens: Int

    /// The tokenizer the tokens were produced with.
    public struct TokenizerRecord: Codable, Equatable, Sendable {
        /// `tokenizer.ggml.model` (`gpt2`, `llama`).
        public var model: String
        /// `TokenizerIdentity.of`: SHA-256 of model name, vocabulary and merges.
        public var identity: String
        public var vocabularySize: Int
        public var bosId: Int?
        public var eosId: Int
        /// Whether each document starts with BOS (the tokenizer's own `add_bos_token`).
        public var bosPerDocument: Bool
        /// Always true: EOS follows each document.
        public var eosPerDocument: Bool
    }

    /// How validation documents were chosen.
    public struct ValidationRule: Codable, Equatable, Sendable {
        public var fraction: Double
        public var minDocuments: Int
        /// `xxh64`: a document is held out when XXH64(text, seed 0) is below fraction·2⁶⁴ (`sha256-prefix64` in
        /// directories prepared before: the first 8 bytes of SHA-256(text), big-endian); a domain with fewer than
        /// `minDocuments` such documents also holds out its lowest-hash documents, keeping at least one for training.
        public var hash: String
    }

    /// One input file.
    public struct InputRecord: Codable, Equatable, Sendable {
        public var path: String
        public var domain: String?
        public var format: String
        public var sha256: String
        /// Size of the file on disk.
        public var bytes: Int
        /// Bytes after decompression.
        public var textBytes: Int
        public var documents: Int
        public var skippedLines: Int
    }

    /// One domain's two splits.
    public struct DomainRecord: Codable, Equatable, Sendable {
        public var name: String
        public var train: SplitRecord
        public var validation: SplitRecord
    }

    /// One Megatron indexed dataset: `prefix.bin` and `prefix.idx` in the data directory.
    public struct SplitRecord: Codable, Equatable, Sendable {
        public var prefix: String
        public var documents: Int
        public var tokens: Int
        public var files: [String]
    }

    /// Index file name inside a data directory.
    public static let fileName = "index.json"

    /// Canonical JSON bytes (sorted keys, snake_case, 2-space indentation, trailing newline).
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self)) + [0x0A]
    }

    /// Reads `directory/index.json`.
    /// - Throws: `TrainingDataError.invalidDataIndex` when it is missing, malformed or of another format.
    public static func read(directory: String) throws(TrainingDataError) -> DataIndex {
        let path = directory + "/" + fileName
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .invalidDataIndex(path: path, problem: "missing (is \(directory) a directory made by moekit prepare-data?)")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let index: DataIndex
        do { index = try decoder.decode(DataIndex.self, from: data) } catch {
            throw .invalidDataIndex(path: path, problem: "\(error)")
        }
        guard index.format == "moekit-data", index.version == 1 else {
            throw .invalidDataIndex(path: path, problem: "format \(index.format) version \(index.version), expected moekit-data 1")
        }
        return index
    }
}
