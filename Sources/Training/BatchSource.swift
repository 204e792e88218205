import Formats
import IOCore
import Runtime
import TrainingData

/// Where a run's micro-batches and validation windows come from: a batch file or a prepared data directory. Its
/// whole state is `cursor`; a source restored from a saved cursor yields exactly the batches an uninterrupted run
/// would have seen.
public protocol BatchSource: AnyObject {
    /// Tokens per training sequence T (windows hold T + 1).
    var sequenceLength: Int { get }
    /// Validation domains (one, `batch-file`, for a batch file).
    var domainNames: [String] { get }
    /// Current sampling weights per domain (nil for a batch file).
    var weights: [Double]? { get }
    /// The next `rows` windows of T + 1 tokens and each row's domain.
    func next(rows: Int) -> TokenBatch
    /// The source's state (saved in `trainer_state.json`).
    var cursor: JSONValue { get }
    /// Continues from a saved `cursor`.
    func restore(_ cursor: JSONValue) throws
    /// Fixed validation windows per domain (in `domainNames` order), at most `limit` each.
    func validationWindows(limit: Int) -> [[[Int32]]]
    /// Sets new sampling weights (a dynamic mixture update).
    func setWeights(_ weights: [Double]) throws
}

/// `--batch-file F.safetensors`: tensor `tokens`, I32 [R, T+1]. Step after step it yields rows 0, 1, … R − 1 in
/// order (wrapping around), so a run trains on exactly those rows: inputs `tokens[:, :T]`, targets `tokens[:, 1:]`.
public final class BatchFileSource: BatchSource {
    public let path: String
    public let rows: Int
    public let sequenceLength: Int
    private let tokens: [Int32]
    private var nextRow = 0

    public var domainNames: [String] { ["batch-file"] }
    public var weights: [Double]? { nil }

    /// Reads and checks the file: tensor `tokens`, I32, two dimensions, at least 2 columns, ids inside the vocabulary.
    /// - Throws: `TrainingError.invalidBatchFile` naming the file and the problem.
    public init(path: String, vocabularySize: Int) throws {
        self.path = path
        let file: SafetensorsFile
        do {
            try OutputSafety.checkRegularFile(path)
            file = try SafetensorsFile(path: path)
        } catch {
            throw TrainingError.invalidBatchFile(path: path, problem: "not a readable safetensors file: \(error)")
        }
        guard let view = file.tensor(named: "tokens") else {
            throw TrainingError.invalidBatchFile(path: path, problem: "no tensor 'tokens' (has \(file.tensors.map(\.name).prefix(8)))")
        }
        guard view.encoding == .dense(.i32) else {
            throw TrainingError.invalidBatchFile(path: path, problem: "'tokens' is \(view.encoding), expected I32")
        }
        guard view.shape.count == 2, view.shape[0] >= 1, view.shape[1] >= 2 else {
            throw TrainingError.invalidBatchFile(path: path, problem: "'tokens' has shape \(view.shape), expected [rows ≥ 1, seq + 1 ≥ 2]")
        }
        rows = view.shape[0]
        sequenceLength = view.shape[1] - 1
        let values = [Int32](unsafeUninitializedCapacity: view.elementCount) { buffer, count in
            _ = view.bytes.copyBytes(to: buffer)
            count = view.elementCount
        }
        if let index = values.firstIndex(where: { $0 < 0 || Int($0) >= vocabularySize }) {
            throw TrainingError.invalidBatchFile(
                path: path,
                problem: "token \(values[index]) at row \(index / (sequenceLength + 1)), column \(index % (sequenceLength + 1)) is outside the model's vocabulary of \(vocabularySize)")
        }
        tokens = values
    }

    public func next(rows count: Int) -> TokenBatch {
        let width = sequenceLength + 1
        var batch: [Int32] = []
        batch.reserveCapacity(count * width)
        for _ in 0..<count {
            batch += tokens[(nextRow * width)..<((nextRow + 1) * width)]
            nextRow = (nextRow + 1) % rows
        }
        return TokenBatch(sequenceLength: sequenceLength, size: count, tokens: batch, domains: [Int](repeating: 0, count: count))
    }

    public var cursor: JSONValue { .object(JSONObject([("next_row", .integer(Int64(nextRow)))])) }

    public func restore(_ cursor: JSONValue) throws {
        guard let row = cursor["next_row"]?.intValue, row >= 0, row < rows else {
            throw TrainingError.invalidCheckpoint(path: path, problem: "batch-file cursor \(cursor) does not fit \(rows) rows")
        }
        nextRow = Int(row)
    }

    /// The first rows of the file (it is all the data there is).
    public func validationWindows(limit: Int) -> [[[Int32]]] {
        let width = sequenceLength + 1
        return [(0..<min(rows, limit)).map { Array(tokens[($0 * width)..<(($0 + 1) * width)]) }]
    }

    public func setWeights(_ weights: [Double]) throws {
        throw TrainingError.unsupported("a batch file has no domain mixture")
    }
}

/// `--data DIR`: a prepared data directory sampled by domain mixture (`BatchSampler`), with its validation sets.
public final class DatasetBatchSource: BatchSource {
    public let dataset: PreparedDataset
    private var sampler: BatchSampler

    public var sequenceLength: Int { sampler.sequenceLength }
    public var domainNames: [String] { dataset.domainNames }
    public var weights: [Double]? { sampler.weights }

    public init(dataset: PreparedDataset, sequenceLength: Int, seed: UInt64, weights: [Double]) throws {
        self.dataset = dataset
        sampler = try BatchSampler(dataset: dataset, sequenceLength: sequenceLength, seed: seed, weights: weights)
    }

    public func next(rows: Int) -> TokenBatch { sampler.nextBatch(size: rows) }

    public var cursor: JSONValue {
        // The sampler's own cursor format (Schemas/sampler-cursor.schema.json), embedded as an object.
        (try? JSONParser.parse(sampler.cursor.encoded())) ?? .null
    }

    public func restore(_ cursor: JSONValue) throws {
        let decoded = try SamplerCursor.decode(Array(JSONWriter.serialize(cursor).utf8))
        sampler = try BatchSampler(dataset: dataset, cursor: decoded)
    }

    public func validationWindows(limit: Int) -> [[[Int32]]] {
        dataset.validation.map { ValidationWindows.make($0, sequenceLength: sequenceLength, limit: limit) }
    }

    public func setWeights(_ weights: [Double]) throws { try sampler.setWeights(weights) }
}
