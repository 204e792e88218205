import Foundation
import TestSupport
import Testing

@testable import Conversion
@testable import IOCore
import Tokenizer
import TrainingData

/// The bundled six-domain corpus with SmolLM2's tokenizer: every document decodes back to its text exactly.
@Suite("prepare-data on the shared corpus")
struct SharedCorpusTests {
    static let names = ["arxiv", "book", "c4", "github", "stackexchange", "wikipedia"]

    @Test("six domains → shards → SmolLM2 decode gives every document back, both splits, in input order",
        .requiresSmolLM2, .requiresShared("data/corpus/wikipedia.jsonl.gz"))
    func roundTrip() throws {
        let corpus = try TestModels.requireShared("data/corpus/wikipedia.jsonl.gz").replacingOccurrences(of: "/wikipedia.jsonl.gz", with: "")
        let model = try ModelSource.open(try TestModels.requireSmolLM2(), recipesDirectory: TestModels.repositoryRoot + "/Converters")
        let data = try #require(model.tokenizer)
        let tmp = TemporaryDirectory()
        var options = DataPreparationOptions(
            inputs: Self.names.map { CorpusInput(path: "\(corpus)/\($0).jsonl.gz", domain: $0) }, output: tmp.file("data"))
        options.validationFraction = 0.05
        options.validationMinimumDocuments = 8
        let index = try DataPreparation.run(options, tokenizerData: data)
        #expect(index.dtype == "uint16" && index.tokenizer.vocabularySize == 49152)
        let tokenizer = try TokenizerFactory.make(data)
        let eos = try #require(tokenizer.eosID)
        let dataset = try PreparedDataset(directory: tmp.file("data"))
        try dataset.requireTokenizer(data)
        for (d, name) in Self.names.enumerated() {
            let texts = try JSONLReader.strings(field: "text", in: "\(corpus)/\(name).jsonl.gz")
            var decoded: [(hash: UInt64, text: String, validation: Bool)] = []
            for (set, validation) in [(dataset.train[d], false), (dataset.validation[d], true)] {
                for i in 0..<set.count {
                    let ids = set.sequence(i)
                    #expect(ids.last == eos)
                    let text = tokenizer.decode(Array(ids.dropLast()), skipSpecial: false)
                    decoded.append((ValidationSelector.hash(text), text, validation))
                }
            }
            #expect(decoded.count == texts.count, "\(name)")
            // Both splits together are exactly the input documents; each split keeps input order.
            let train = decoded.filter { !$0.validation }.map(\.text), validation = decoded.filter(\.validation).map(\.text)
            #expect(train == texts.filter { train.contains($0) }, "\(name) train order")
            #expect(validation == texts.filter { validation.contains($0) }, "\(name) validation order")
            #expect(Set(train).union(validation) == Set(texts) && train.count + validation.count == texts.count, "\(name)")
            #expect(validation.count >= 8)
        }
    }
}
