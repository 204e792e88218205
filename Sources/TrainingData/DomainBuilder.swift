#if canImport(Glibc)
import Glibc
#endif

/// Writes one domain's training and validation datasets during `DataPreparation`, in input order, and applies
/// the minimum-validation-documents rule at the end (`ValidationSelector`).
final class DomainBuilder {
    let name: String
    let directory: String
    let dtype: TokenDType
    let selector: ValidationSelector
    private let train: IndexedDatasetWriter
    private let validation: IndexedDatasetWriter
    /// Documents seen so far (the next document's index within the domain).
    private var documents = 0
    /// Domain-local indices of validation documents, ascending.
    private var validationIndices: [Int] = []
    private var candidates: ValidationSelector.Candidates

    static func prefix(domain: String, split: String) -> String { "\(domain)_\(split)" }

    init(name: String, directory: String, dtype: TokenDType, selector: ValidationSelector) throws(TrainingDataError) {
        self.name = name
        self.directory = directory
        self.dtype = dtype
        self.selector = selector
        train = try IndexedDatasetWriter(prefix: directory + "/" + Self.prefix(domain: name, split: "train"), dtype: dtype)
        validation = try IndexedDatasetWriter(prefix: directory + "/" + Self.prefix(domain: name, split: "validation"), dtype: dtype)
        candidates = .init(capacity: selector.minimumDocuments)
    }

    /// Adds the next document of this domain.
    func add(_ ids: [Int32], hash: UInt64) throws(TrainingDataError) {
        if selector.holdsOut(hash) {
            validationIndices.append(documents)
            try validation.append(ids)
        } else {
            candidates.offer(hash: hash, index: documents)
            try train.append(ids)
        }
        documents += 1
    }

    /// Finishes both datasets, moving lowest-hash training documents to validation when the domain has fewer
    /// than the minimum (both files keep input order).
    func finish() throws(TrainingDataError) -> DataIndex.DomainRecord {
        try train.finish()
        try validation.finish()
        let extra = selector.extraDocuments(total: documents, heldOut: validationIndices.count)
        if extra > 0 { try moveToValidation(Set(candidates.entries.prefix(extra).map(\.index))) }
        func record(_ split: String) throws(TrainingDataError) -> DataIndex.SplitRecord {
            let prefix = Self.prefix(domain: name, split: split)
            let dataset = try IndexedDataset(prefix: directory + "/" + prefix)
            return .init(prefix: prefix, documents: dataset.count, tokens: dataset.tokenCount, files: [prefix + ".bin", prefix + ".idx"])
        }
        return .init(name: name, train: try record("train"), validation: try record("validation"))
    }

    /// Rewrites both datasets with the training documents of domain-local indices `moved` in validation.
    private func moveToValidation(_ moved: Set<Int>) throws(TrainingDataError) {
        let trainPrefix = directory + "/" + Self.prefix(domain: name, split: "train")
        let validationPrefix = directory + "/" + Self.prefix(domain: name, split: "validation")
        let oldTrain = try IndexedDataset(prefix: trainPrefix)
        let oldValidation = try IndexedDataset(prefix: validationPrefix)
        // The old files stay readable through their mappings; new files of the same names are fresh inodes
        // (truncating a mapped file in place would fault its readers).
        for prefix in [trainPrefix, validationPrefix] {
            unlink(prefix + ".bin")
            unlink(prefix + ".idx")
        }
        let newTrain = try IndexedDatasetWriter(prefix: trainPrefix, dtype: dtype)
        let newValidation = try IndexedDatasetWriter(prefix: validationPrefix, dtype: dtype)
        let heldOut = Set(validationIndices)
        var trainSequence = 0, validationSequence = 0
        for index in 0..<documents {
            if heldOut.contains(index) {
                try newValidation.append(oldValidation.sequence(validationSequence))
                validationSequence += 1
            } else {
                let ids = oldTrain.sequence(trainSequence)
                trainSequence += 1
                if moved.contains(index) { try newValidation.append(ids) } else { try newTrain.append(ids) }
            }
        }
        try newTrain.finish()
        try newValidation.finish()
    }
}
