import Foundation

/// Summary of a prepared data directory for `moekit inspect DIR` (JSON schema `Schemas/data-inspect.schema.json`).
public struct DataInspection: Codable, Equatable, Sendable {
    public var format = "moekit-data"
    public var tokenizerModel: String
    public var tokenizerIdentity: String
    public var dtype: String
    public var documents: Int
    public var tokens: Int
    public var domains: [Domain]

    /// One domain.
    public struct Domain: Codable, Equatable, Sendable {
        public var name: String
        public var trainDocuments: Int
        public var trainTokens: Int
        public var validationDocuments: Int
        public var validationTokens: Int
        /// Tokens per document over both splits (nearest-rank percentiles; BOS/EOS included).
        public var tokensPerDocument: Percentiles
    }

    /// Nearest-rank percentiles.
    public struct Percentiles: Codable, Equatable, Sendable {
        public var min: Int
        public var p10: Int
        public var p50: Int
        public var p90: Int
        public var p99: Int
        public var max: Int
        public var mean: Double

        /// Percentiles of `values` (all 0 when empty).
        public init(_ values: [Int32]) {
            let sorted = values.map(Int.init).sorted()
            func rank(_ p: Double) -> Int {
                guard !sorted.isEmpty else { return 0 }
                let index = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
                return sorted[Swift.max(0, Swift.min(sorted.count - 1, index))]
            }
            min = sorted.first ?? 0
            p10 = rank(10)
            p50 = rank(50)
            p90 = rank(90)
            p99 = rank(99)
            max = sorted.last ?? 0
            mean = sorted.isEmpty ? 0 : Double(sorted.reduce(0, +)) / Double(sorted.count)
        }
    }

    /// Summarises `dataset`.
    public init(_ dataset: PreparedDataset) {
        tokenizerModel = dataset.index.tokenizer.model
        tokenizerIdentity = dataset.index.tokenizer.identity
        dtype = dataset.index.dtype
        documents = dataset.index.documents
        tokens = dataset.index.tokens
        domains = dataset.domainNames.enumerated().map { index, name in
            let train = dataset.train[index], validation = dataset.validation[index]
            return Domain(
                name: name, trainDocuments: train.count, trainTokens: train.tokenCount, validationDocuments: validation.count,
                validationTokens: validation.tokenCount, tokensPerDocument: Percentiles(train.lengths + validation.lengths))
        }
    }

    /// JSON (sorted keys, snake_case).
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// A table for people.
    public func text() -> String {
        var lines = [
            "format: moekit-data (Megatron indexed datasets, \(dtype))",
            "tokenizer: \(tokenizerModel) \(tokenizerIdentity.prefix(16))…",
            "documents: \(documents)   tokens: \(tokens)",
            "",
            "domain            train docs   train tokens   val docs   val tokens   tokens/doc min/p10/p50/p90/p99/max (mean)",
        ]
        for d in domains {
            let p = d.tokensPerDocument
            lines.append(
                d.name.padding(toLength: max(16, d.name.count), withPad: " ", startingAt: 0)
                    + String(format: "  %10d  %13d  %9d  %11d   %d/%d/%d/%d/%d/%d (%.1f)", d.trainDocuments, d.trainTokens,
                        d.validationDocuments, d.validationTokens, p.min, p.p10, p.p50, p.p90, p.p99, p.max, p.mean))
        }
        return lines.joined(separator: "\n")
    }

    /// Whether `path` is a data directory made by `prepare-data` (holds an `index.json` of format moekit-data).
    public static func isDataDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue,
            let data = FileManager.default.contents(atPath: path + "/" + DataIndex.fileName),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return false }
        return object["format"] as? String == "moekit-data"
    }
}
