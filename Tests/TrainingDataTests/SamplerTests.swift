import Foundation
import TestSupport
import Testing

@testable import IOCore
import TrainingData

/// Packing, mixture sampling, determinism and resume of `BatchSampler`.
@Suite("batch sampler")
struct SamplerTests {
    /// A prepared copy of the three-domain fixture (kept alive with its temporary directory).
    static func dataset() throws -> (TemporaryDirectory, PreparedDataset) {
        let tmp = TemporaryDirectory()
        let domains = try CorpusFixture.make(in: tmp)
        _ = try PrepareDataTests.prepare(domains, out: tmp.file("data"))
        return (tmp, try PreparedDataset(directory: tmp.file("data")))
    }

    @Test("one domain's windows pack every training document exactly once per epoch, back to back, overlapping by one token")
    func packing() throws {
        let (_, data) = try Self.dataset()
        let train = data.train[0]
        let documents = (0..<train.count).map { train.sequence($0) }
        let total = train.tokenCount
        let t = 37
        let sampler = try BatchSampler(dataset: data, sequenceLength: t, seed: 5, weights: [1, 0, 0])
        var stream: [Int32] = []
        var previous: [Int32]?
        while stream.count < 2 * total + t {
            let batch = sampler.nextBatch(size: 3)
            #expect(batch.domains == [0, 0, 0])
            for row in 0..<3 {
                let window = Array(batch.tokens[(row * (t + 1))..<((row + 1) * (t + 1))])
                #expect(Array(batch.inputs(row: row)) == Array(window.prefix(t)) && Array(batch.targets(row: row)) == Array(window.dropFirst()))
                if let previous { #expect(previous.last == window.first, "consecutive windows share one token") }
                previous = window
                stream += window.prefix(t)
            }
        }
        // Segment the stream into whole documents: each epoch must use every document exactly once.
        func segment(_ tokens: ArraySlice<Int32>) -> [Int]? {
            var order: [Int] = []
            var rest = tokens
            var used = Set<Int>()
            while !rest.isEmpty {
                guard let next = documents.indices.first(where: { !used.contains($0) && rest.starts(with: documents[$0]) }) else { return nil }
                used.insert(next)
                order.append(next)
                rest = rest.dropFirst(documents[next].count)
            }
            return order
        }
        let first = segment(stream[0..<total]), second = segment(stream[total..<(2 * total)])
        #expect(first.map { Set($0) } == Set(documents.indices))
        #expect(second.map { Set($0) } == Set(documents.indices))
        #expect(first != second, "each epoch has its own permutation")
    }

    @Test("realised domain shares match the mixture within a binomial tolerance")
    func shares() throws {
        let (_, data) = try Self.dataset()
        let weights = [0.6, 0.1, 0.3]
        let sampler = try BatchSampler(dataset: data, sequenceLength: 8, seed: 11, weights: weights)
        var counts = [0, 0, 0]
        let steps = 1000, size = 20
        for _ in 0..<steps { for d in sampler.nextBatch(size: size).domains { counts[d] += 1 } }
        let n = Double(steps * size)
        for (count, p) in zip(counts, weights) {
            // 4.5 standard deviations of Binomial(n, p): fails by chance with probability < 1e-5.
            #expect(abs(Double(count) - n * p) <= 4.5 * (n * p * (1 - p)).squareRoot(), "\(counts)")
        }
        let zero = try BatchSampler(dataset: data, sequenceLength: 8, seed: 11, weights: [0.5, 0, 0.5])
        #expect(!(0..<200).contains { _ in zero.nextBatch(size: 4).domains.contains(1) })
    }

    @Test("a seed gives the same batches on every run; another seed gives others")
    func seeded() throws {
        let (_, data) = try Self.dataset()
        let w = [0.5, 0.2, 0.3]
        let a = try BatchSampler(dataset: data, sequenceLength: 16, seed: 42, weights: w)
        let b = try BatchSampler(dataset: data, sequenceLength: 16, seed: 42, weights: w)
        let c = try BatchSampler(dataset: data, sequenceLength: 16, seed: 43, weights: w)
        let batchesA = (0..<30).map { _ in a.nextBatch(size: 4) }
        #expect(batchesA == (0..<30).map { _ in b.nextBatch(size: 4) })
        #expect(batchesA != (0..<30).map { _ in c.nextBatch(size: 4) })
    }

    @Test("a cursor saved as JSON and restored continues with exactly the uninterrupted batches, across epochs and a weight change")
    func resume() throws {
        let (_, data) = try Self.dataset()
        let reference = try BatchSampler(dataset: data, sequenceLength: 64, seed: 7, weights: [0.5, 0.3, 0.2])
        let interrupted = try BatchSampler(dataset: data, sequenceLength: 64, seed: 7, weights: [0.5, 0.3, 0.2])
        for step in 0..<40 {
            if step == 25 {
                try reference.setWeights([0.2, 0.7, 0.1])
                try interrupted.setWeights([0.2, 0.7, 0.1])
            }
            #expect(reference.nextBatch(size: 6) == interrupted.nextBatch(size: 6))
        }
        let saved = try interrupted.cursor.encoded()
        let cursor = try SamplerCursor.decode(saved)
        #expect(cursor == interrupted.cursor && cursor.step == 40 && cursor.weights == [0.2, 0.7, 0.1])
        #expect(cursor.domains.contains { $0.epoch > 0 }, "the run crossed an epoch: \(cursor.domains)")
        let schema = try JSONParser.parse(try PathUtilities.readBytes(TestModels.repositoryRoot + "/Schemas/sampler-cursor.schema.json"))
        #expect(JSONSchemaValidator(schema: schema).validate(try JSONParser.parse(saved)).isEmpty)
        let resumed = try BatchSampler(dataset: data, cursor: cursor)
        for _ in 0..<60 { #expect(reference.nextBatch(size: 6) == resumed.nextBatch(size: 6)) }
        #expect(resumed.cursor == reference.cursor)
    }

    @Test("a cursor of other data is refused")
    func cursorMismatch() throws {
        let (_, data) = try Self.dataset()
        let sampler = try BatchSampler(dataset: data, sequenceLength: 8, seed: 1, weights: [1, 0, 0])
        var cursor = sampler.cursor
        cursor.domains[0].documents += 1
        #expect(throws: TrainingDataError.self) { _ = try BatchSampler(dataset: data, cursor: cursor) }
        cursor = sampler.cursor
        cursor.tokenizerIdentity = String(repeating: "0", count: 64)
        #expect(throws: TrainingDataError.self) { _ = try BatchSampler(dataset: data, cursor: cursor) }
        cursor = sampler.cursor
        cursor.domains[0].offset = 1_000_000
        #expect(throws: TrainingDataError.self) { _ = try BatchSampler(dataset: data, cursor: cursor) }
        #expect(throws: TrainingDataError.self) { _ = try BatchSampler(dataset: data, sequenceLength: 8, seed: 1, weights: [0.5, 0.6, 0]) }
    }

    @Test("validation windows are fixed, T + 1 long, stride T, over the validation documents in order")
    func validationWindows() throws {
        let (_, data) = try Self.dataset()
        let validation = data.validation[0]
        let stream = (0..<validation.count).flatMap { validation.sequence($0) }
        let windows = ValidationWindows.make(validation, sequenceLength: 10)
        #expect(windows.count == (stream.count - 1) / 10)
        for (i, window) in windows.enumerated() { #expect(window == Array(stream[(i * 10)...(i * 10 + 10)])) }
        #expect(windows == ValidationWindows.make(validation, sequenceLength: 10))
        #expect(ValidationWindows.make(validation, sequenceLength: 10, limit: 3) == Array(windows.prefix(3)))
        // Fewer tokens than T + 1: one shorter window of everything.
        #expect(ValidationWindows.make(validation, sequenceLength: stream.count + 5) == [stream])
    }
}
