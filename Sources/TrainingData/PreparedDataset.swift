import Conversion

/// A data directory made by `DataPreparation`: its index and every domain's training and validation datasets.
public final class PreparedDataset: @unchecked Sendable {
    public let directory: String
    public let index: DataIndex
    /// Training datasets, in `index.domains` order.
    public let train: [IndexedDataset]
    /// Validation datasets, in `index.domains` order.
    public let validation: [IndexedDataset]

    /// Domain names in index order.
    public var domainNames: [String] { index.domains.map(\.name) }

    /// Opens `directory` and checks that each dataset matches what `index.json` records.
    /// - Throws: `TrainingDataError.invalidDataIndex` or `.invalidIndexedDataset`.
    public init(directory: String) throws(TrainingDataError) {
        self.directory = directory
        index = try DataIndex.read(directory: directory)
        guard let dtype = TokenDType(code: UInt8(clamping: index.dtypeCode)) else {
            throw .invalidDataIndex(path: directory + "/index.json", problem: "dtype code \(index.dtypeCode)")
        }
        var train: [IndexedDataset] = [], validation: [IndexedDataset] = []
        for domain in index.domains {
            for (record, split) in [(domain.train, "train"), (domain.validation, "validation")] {
                guard !record.prefix.contains("/"), !record.prefix.hasPrefix(".") else {
                    throw .invalidDataIndex(path: directory + "/index.json", problem: "prefix '\(record.prefix)' must name a file in the directory")
                }
                let dataset = try IndexedDataset(prefix: directory + "/" + record.prefix)
                guard dataset.count == record.documents, dataset.tokenCount == record.tokens, dataset.dtype == dtype else {
                    throw .invalidDataIndex(
                        path: directory + "/index.json",
                        problem: "domain \(domain.name) \(split): index.json records \(record.documents) documents and \(record.tokens) tokens, \(record.prefix) holds \(dataset.count) and \(dataset.tokenCount)")
                }
                if split == "train" { train.append(dataset) } else { validation.append(dataset) }
            }
        }
        self.train = train
        self.validation = validation
    }

    /// Checks that the data was tokenised with `tokenizer`.
    /// - Throws: `TrainingDataError.tokenizerMismatch` naming both identities.
    public func requireTokenizer(_ tokenizer: TokenizerData) throws(TrainingDataError) {
        let identity = TokenizerIdentity.of(tokenizer)
        guard identity == index.tokenizer.identity else {
            throw .tokenizerMismatch(directory: directory, prepared: index.tokenizer.identity, model: identity)
        }
    }

    /// Index of domain `name`.
    public func domainIndex(_ name: String) -> Int? { index.domains.firstIndex { $0.name == name } }
}
