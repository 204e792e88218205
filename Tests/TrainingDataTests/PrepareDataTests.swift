import CPlatform
import Foundation
import TestSupport
import Testing

@testable import Conversion
@testable import IOCore
@testable import Tokenizer
import TrainingData

/// `DataPreparation` on synthetic corpora with a hand-built tokenizer: exact round trips, the validation rule
/// recomputed independently, determinism, atomic output and the Megatron files read by numpy.
@Suite("prepare-data")
struct PrepareDataTests {
    static func prepare(_ domains: [CorpusFixture.Domain], out: String, tokenizer: TokenizerData = TinyTokenizers.data(),
        fraction: Double = 0.2, minDocs: Int = 3, workers: Int = 2, batchBytes: Int = 300, force: Bool = false) throws -> DataIndex
    {
        var options = DataPreparationOptions(inputs: domains.map { CorpusInput(path: $0.path, domain: $0.name) }, output: out)
        options.validationFraction = fraction
        options.validationMinimumDocuments = minDocs
        options.workers = workers
        options.batchBytes = batchBytes
        options.force = force
        return try DataPreparation.run(options, tokenizerData: tokenizer)
    }

    /// Domain-local indices of validation documents, recomputed from the documented rule with XXH64 directly (checked
    /// against the reference implementation's values in `TextKernelTests.xxh64`).
    static func expectedValidation(_ texts: [String], fraction: Double, minDocs: Int) -> Set<Int> {
        let hashes = texts.map { text -> UInt64 in Array(text.utf8).withUnsafeBytes { moekit_xxh64($0.baseAddress, $0.count, 0) } }
        let threshold = fraction * pow(2.0, 64)
        var held = Set(hashes.indices.filter { Double(hashes[$0]) < threshold })
        let want = min(minDocs, texts.count - 1)
        let rest = hashes.indices.filter { !held.contains($0) }.sorted { (hashes[$0], $0) < (hashes[$1], $1) }
        for index in rest.prefix(max(0, want - held.count)) { held.insert(index) }
        return held
    }

    @Test("documents → shards → decode gives every text back, per domain and split, in input order")
    func roundTrip() throws {
        let tmp = TemporaryDirectory()
        let domains = try CorpusFixture.make(in: tmp)
        let index = try Self.prepare(domains, out: tmp.file("data"))
        let tokenizer = try TokenizerFactory.make(TinyTokenizers.data())
        let dataset = try PreparedDataset(directory: tmp.file("data"))
        #expect(dataset.domainNames == ["book", "tiny", "notes"])
        #expect(index.dtype == "uint16" && index.tokenizer.eosId == 258 && !index.tokenizer.bosPerDocument)
        #expect(index.validation.hash == "xxh64")
        for (d, domain) in domains.enumerated() {
            let held = Self.expectedValidation(domain.texts, fraction: 0.2, minDocs: 3)
            #expect(held.count >= min(3, domain.texts.count - 1))
            let trainTexts = domain.texts.indices.filter { !held.contains($0) }.map { domain.texts[$0] }
            let validationTexts = domain.texts.indices.filter { held.contains($0) }.map { domain.texts[$0] }
            for (split, texts) in [(dataset.train[d], trainTexts), (dataset.validation[d], validationTexts)] {
                #expect(split.count == texts.count, "\(domain.name)")
                for (i, text) in texts.enumerated() where i < split.count {
                    let ids = split.sequence(i)
                    #expect(ids.last == 258, "EOS ends each document")
                    #expect(tokenizer.decode(Array(ids.dropLast()), skipSpecial: false) == text, "\(domain.name) #\(i)")
                    #expect(ids == tokenizer.encode(text, addBOS: true, parseSpecial: false) + [258])
                }
            }
        }
        // "the" is one merge ("t" + "he"): the tokenizer really merged, so ids are not just bytes.
        #expect(dataset.train.contains { set in (0..<set.count).contains { set.sequence($0).contains(257) } })
        // The literal "<|endoftext|>" in the text stays text: EOS appears once per document, at its end.
        for set in dataset.train + dataset.validation {
            for i in 0..<set.count { #expect(set.sequence(i).dropLast().contains(258) == false) }
        }
        #expect(index.inputs.map(\.documents) == [40, 5, 30])
        #expect(index.inputs[0].sha256 == (try SHA256.hex(file: domains[0].path)))
        let schema = try JSONParser.parse(try PathUtilities.readBytes(TestModels.repositoryRoot + "/Schemas/data-index.schema.json"))
        let json = try JSONParser.parse(try PathUtilities.readBytes(tmp.file("data/index.json")))
        #expect(JSONSchemaValidator(schema: schema).validate(json).isEmpty)
    }

    @Test("a tokenizer that adds BOS starts each document with it")
    func bos() throws {
        let tmp = TemporaryDirectory()
        let domains = try CorpusFixture.make(in: tmp)
        let index = try Self.prepare(domains, out: tmp.file("data"), tokenizer: TinyTokenizers.data(addBOS: true))
        #expect(index.tokenizer.bosPerDocument && index.tokenizer.bosId == 259)
        let dataset = try PreparedDataset(directory: tmp.file("data"))
        for set in dataset.train { for i in 0..<set.count { #expect(set.sequence(i).first == 259 && set.sequence(i).last == 258) } }
    }

    @Test("a vocabulary of 65,500 or more entries writes int32 ids that survive above 65535")
    func int32Vocabulary() throws {
        let tmp = TemporaryDirectory()
        let domains = try CorpusFixture.make(in: tmp)
        let data = TinyTokenizers.data(fillerTokens: 70_000)
        let index = try Self.prepare(domains, out: tmp.file("data"), tokenizer: data)
        #expect(index.dtype == "int32" && index.dtypeCode == 4)
        let dataset = try PreparedDataset(directory: tmp.file("data"))
        #expect(dataset.train[0].sequence(0).last == Int32(70_258))
    }

    @Test("re-running gives byte-identical output for any thread count and batch size")
    func deterministic() throws {
        let tmp = TemporaryDirectory()
        let domains = try CorpusFixture.make(in: tmp)
        _ = try Self.prepare(domains, out: tmp.file("a"), workers: 1, batchBytes: 1 << 20)
        _ = try Self.prepare(domains, out: tmp.file("b"), workers: 3, batchBytes: 100)
        let names = try FileManager.default.contentsOfDirectory(atPath: tmp.file("a")).sorted()
        #expect(names == (try FileManager.default.contentsOfDirectory(atPath: tmp.file("b")).sorted()))
        #expect(names.count == 13)
        for name in names {
            #expect(try Data(contentsOf: URL(fileURLWithPath: tmp.file("a/" + name))) == Data(contentsOf: URL(fileURLWithPath: tmp.file("b/" + name))), "\(name)")
        }
    }

    @Test("an existing output is refused without --force and replaced with it; no temporary directory is left")
    func atomicOutput() throws {
        let tmp = TemporaryDirectory()
        let domains = try CorpusFixture.make(in: tmp)
        try FileManager.default.createDirectory(atPath: tmp.file("data"), withIntermediateDirectories: false)
        try "keep".write(toFile: tmp.file("data/marker"), atomically: true, encoding: .utf8)
        #expect(throws: TrainingDataError.outputExists(path: tmp.file("data"))) { _ = try Self.prepare(domains, out: tmp.file("data")) }
        #expect(FileManager.default.fileExists(atPath: tmp.file("data/marker")))
        _ = try Self.prepare(domains, out: tmp.file("data"), force: true)
        #expect(!FileManager.default.fileExists(atPath: tmp.file("data/marker")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).allSatisfy { !$0.hasPrefix(".") })
        // An output directory holding an input is never replaced.
        let inside = CorpusFixture.Domain(name: "book", path: tmp.file("data/book_train.idx"), texts: [])
        #expect(throws: TrainingDataError.outputContainsInput(output: tmp.file("data"), input: inside.path)) {
            _ = try Self.prepare([inside], out: tmp.file("data"), force: true)
        }
    }

    @Test("--domain-field assigns each line to the domain it names")
    func domainField() throws {
        let tmp = TemporaryDirectory()
        let a = CorpusFixture.texts(count: 12, seed: 7), b = CorpusFixture.texts(count: 9, seed: 8)
        var lines: [String] = []
        for i in 0..<12 {
            lines.append(try CorpusFixture.jsonl([a[i]], extra: ["source": "alpha"]).trimmingCharacters(in: .newlines))
            if i < 9 { lines.append(try CorpusFixture.jsonl([b[i]], extra: ["source": "beta"]).trimmingCharacters(in: .newlines)) }
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: tmp.file("mixed.jsonl"), atomically: true, encoding: .utf8)
        var options = DataPreparationOptions(inputs: [CorpusInput(path: tmp.file("mixed.jsonl"), domain: nil)], output: tmp.file("data"))
        options.domainField = "source"
        options.validationFraction = 0
        options.validationMinimumDocuments = 2
        let index = try DataPreparation.run(options, tokenizerData: TinyTokenizers.data())
        #expect(index.domains.map(\.name) == ["alpha", "beta"])
        let tokenizer = try TokenizerFactory.make(TinyTokenizers.data())
        let dataset = try PreparedDataset(directory: tmp.file("data"))
        for (d, texts) in [a, b].enumerated() {
            let held = Self.expectedValidation(texts, fraction: 0, minDocs: 2)
            #expect(dataset.validation[d].count == 2)
            let train = texts.indices.filter { !held.contains($0) }.map { texts[$0] }
            #expect((0..<dataset.train[d].count).map { tokenizer.decode(dataset.train[d].sequence($0).dropLast(), skipSpecial: false) } == train)
        }
    }

    @Test("the data directory records the tokenizer; another tokenizer is detected")
    func tokenizerIdentity() throws {
        let tmp = TemporaryDirectory()
        let domains = try CorpusFixture.make(in: tmp)
        _ = try Self.prepare(domains, out: tmp.file("data"))
        let dataset = try PreparedDataset(directory: tmp.file("data"))
        try dataset.requireTokenizer(TinyTokenizers.data())
        let other = TinyTokenizers.data(merges: ["h e", "Ġ t"])  // same vocabulary, merges in another order
        #expect(TokenizerIdentity.of(other) != TokenizerIdentity.of(TinyTokenizers.data()))
        #expect {
            try dataset.requireTokenizer(other)
        } throws: { error in
            guard case .tokenizerMismatch(let directory, let prepared, let model) = error as? TrainingDataError else { return false }
            return directory == tmp.file("data") && prepared == TokenizerIdentity.of(TinyTokenizers.data()) && model == TokenizerIdentity.of(other)
        }
    }

    @Test("an independent numpy reader of Megatron's layout sees the same ids and document boundaries",
        .requiresPythonPackages("numpy"))
    func numpyReader() throws {
        let tmp = TemporaryDirectory()
        let domains = try CorpusFixture.make(in: tmp)
        _ = try Self.prepare(domains, out: tmp.file("data"))
        let tokenizer = try TokenizerFactory.make(TinyTokenizers.data())
        let dataset = try PreparedDataset(directory: tmp.file("data"))
        for (d, domain) in domains.enumerated() {
            let held = Self.expectedValidation(domain.texts, fraction: 0.2, minDocs: 3)
            for (split, keep) in [("train", false), ("validation", true)] {
                let result = try TestModels.run(
                    TinyTokenizers.python!, [TestModels.repositoryRoot + "/scripts/read_megatron_idx.py", tmp.file("data/\(domain.name)_\(split)")])
                #expect(result.status == 0, "\(result.output)")
                let json = try JSONParser.parse(result.output)
                let sequences = json["sequences"]?.arrayValue?.map { $0.arrayValue?.compactMap { $0.intValue.map(Int32.init) } ?? [] } ?? []
                let expected = domain.texts.indices.filter { held.contains($0) == keep }
                    .map { tokenizer.encode(domain.texts[$0], addBOS: true, parseSpecial: false) + [258] }
                #expect(sequences == expected, "\(domain.name) \(split)")
                #expect(json["dtype"]?.stringValue == "uint16")
                #expect(json["document_indices"]?.arrayValue?.compactMap(\.intValue) == (0...expected.count).map(Int64.init))
                let set = split == "train" ? dataset.train[d] : dataset.validation[d]
                #expect(json["sequence_pointers"]?.arrayValue?.compactMap(\.intValue) == set.pointers)
            }
        }
    }
}
