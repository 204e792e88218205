import Dispatch
import Formats
import Foundation
import Synchronization
import TensorCore
import Tokenizer

/// Settings of `moekit prepare-data`.
public struct DataPreparationOptions: Sendable {
    public var inputs: [CorpusInput]
    /// Output directory (created; must not exist unless `force`).
    public var output: String
    public var textField = "text"
    /// JSON field naming each document's domain (instead of one domain per file).
    public var domainField: String?
    public var validationFraction = 0.01
    public var validationMinimumDocuments = 16
    public var skipBadLines = false
    public var force = false
    /// Tokenizer threads (default: all cores, `MOEKIT_THREADS`).
    public var workers = Parallel.width
    /// Text bytes per batch handed to the tokenizer threads.
    public var batchBytes = 1 << 20

    public init(inputs: [CorpusInput], output: String) {
        self.inputs = inputs
        self.output = output
    }
}

/// Progress of a preparation run, reported after each batch.
public struct DataPreparationProgress: Sendable {
    public var input: String
    public var inputNumber: Int
    public var inputCount: Int
    public var documents: Int
    public var tokens: Int
    /// Decompressed input bytes consumed so far (all inputs).
    public var textBytes: Int
    public var elapsedSeconds: Double
}

/// Tokenises corpora into per-domain Megatron indexed datasets (training and held-out validation) plus
/// `index.json`, written to a temporary directory next to the output and renamed into place at the end.
///
/// Documents are read in order on one thread while the previous batch is tokenised on `workers` threads (one
/// tokenizer each); results are written in input order, so the output does not depend on the thread count.
/// Each document becomes `[BOS if the tokenizer adds it] + ids + [EOS]`.
public enum DataPreparation {
    /// Runs the preparation.
    /// - Parameters:
    ///   - tokenizerData: the model's tokenizer.
    ///   - progress: called after each batch.
    ///   - warning: called with human-readable warnings (skipped lines).
    /// - Returns: the index written to `output/index.json`.
    /// - Throws: `TrainingDataError` (bad input with file and line, existing output, write failures),
    ///   `TokenizerError` when the tokenizer cannot be built.
    public static func run(
        _ options: DataPreparationOptions, tokenizerData: TokenizerData,
        progress: (DataPreparationProgress) -> Void = { _ in }, warning: (String) -> Void = { _ in }
    ) throws -> DataIndex {
        let selector = try ValidationSelector(
            fraction: options.validationFraction, minimumDocuments: options.validationMinimumDocuments)
        guard !options.inputs.isEmpty else { throw TrainingDataError.invalidOption("no inputs given") }
        let workers = max(1, options.workers)
        let tokenizers = try Self.makeTokenizers(tokenizerData, count: workers)
        guard let eos = tokenizers[0].eosID else {
            throw TrainingDataError.unusableTokenizer("the vocabulary has no EOS token to end documents with")
        }
        let bosPerDocument = tokenizers[0].encode("", addBOS: true, parseSpecial: false).first.map { $0 == tokenizers[0].bosID } ?? false
        let dtype = TokenDType.optimal(vocabularySize: tokenizers[0].vocabularySize)

        let output = try OutputDirectory(path: options.output, force: options.force, inputs: options.inputs.map(\.path))
        defer { output.discard() }
        var inputRecords: [DataIndex.InputRecord] = []
        var builders: [DomainBuilder] = []
        var builderIndex: [String: Int] = [:]
        func builder(for name: String, source: String) throws -> Int {
            if let index = builderIndex[name] { return index }
            try CorpusInput.validateDomainName(name, source: source)
            let index = builders.count
            builders.append(try DomainBuilder(name: name, directory: output.temporaryPath, dtype: dtype, selector: selector))
            builderIndex[name] = index
            return index
        }

        let start = Date()
        var totals = (documents: 0, tokens: 0, textBytes: 0)
        // Reading runs one batch ahead of tokenisation and continues from one input into the next, so the
        // tokenizer threads never wait for a file to be opened.
        var reading: (number: Int, input: CorpusInput, reader: CorpusReader, digest: String, domain: Int?, documents: Int)?
        var nextInput = 0
        func finishInput() throws {
            guard let current = reading else { return }
            let reader = current.reader, input = current.input
            if reader.skippedLines > 0 {
                let examples = reader.skippedErrors.prefix(3).map(\.description).joined(separator: "; ")
                warning("\(input.path): skipped \(reader.skippedLines) bad line(s), e.g. \(examples)")
            }
            guard current.documents > 0 else { throw TrainingDataError.emptyInput(path: input.path) }
            totals.textBytes += reader.bytesRead
            let size = (try? FileManager.default.attributesOfItem(atPath: input.path)[.size] as? Int) ?? 0
            inputRecords.append(DataIndex.InputRecord(
                path: input.path, domain: input.domain, format: input.format.rawValue, sha256: current.digest, bytes: size,
                textBytes: reader.bytesRead, documents: current.documents, skippedLines: reader.skippedLines))
            reading = nil
        }
        func readBatch() throws -> Batch {
            var batch = Batch()
            var bytes = 0
            while bytes < options.batchBytes {
                if reading == nil {
                    guard nextInput < options.inputs.count else { break }
                    let input = options.inputs[nextInput]
                    let digest = try SHA256.hex(file: input.path)
                    let reader = try CorpusReader(
                        path: input.path, format: input.format, textField: options.textField,
                        domainField: input.domain == nil ? options.domainField : nil, skipBadLines: options.skipBadLines)
                    let domain = try input.domain.map { try builder(for: $0, source: input.path) }
                    reading = (nextInput, input, reader, digest, domain, 0)
                    nextInput += 1
                }
                guard let document = try reading!.reader.next() else {
                    try finishInput()
                    continue
                }
                let path = reading!.input.path
                let domain = try reading!.domain ?? builder(for: document.domain ?? "", source: "\(path):\(document.line)")
                reading!.documents += 1
                bytes += document.text.utf8.count
                batch.texts.append(document.text)
                batch.domains.append(domain)
                batch.lastInput = (reading!.number, path)
            }
            return batch
        }

        var current = try readBatch()
        while !current.texts.isEmpty {
            let work = BatchWork(count: current.texts.count)
            let texts = current.texts
            let group = DispatchGroup()
            DispatchQueue.global().async(group: group) {
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    let tokenizer = tokenizers[worker]
                    while true {
                        let i = work.next.add(1, ordering: .relaxed).oldValue
                        guard i < texts.count else { break }
                        var ids = tokenizer.encode(texts[i], addBOS: true, parseSpecial: false)
                        ids.append(eos)
                        work.ids[i] = ids
                        work.hashes[i] = ValidationSelector.hash(texts[i])
                    }
                }
            }
            let next: Batch
            do { next = try readBatch() } catch {
                group.wait()
                throw error
            }
            group.wait()
            for i in 0..<texts.count {
                try builders[current.domains[i]].add(work.ids[i], hash: work.hashes[i])
                totals.tokens += work.ids[i].count
            }
            totals.documents += texts.count
            progress(DataPreparationProgress(
                input: current.lastInput.path, inputNumber: current.lastInput.number + 1, inputCount: options.inputs.count,
                documents: totals.documents, tokens: totals.tokens, textBytes: totals.textBytes + (reading?.reader.bytesRead ?? 0),
                elapsedSeconds: Date().timeIntervalSince(start)))
            current = next
        }

        var domains: [DataIndex.DomainRecord] = []
        for builder in builders { domains.append(try builder.finish()) }
        let first = tokenizers[0]
        let index = DataIndex(
            moekitVersion: MoekitVersion.string,
            tokenizer: .init(
                model: tokenizerData.model, identity: TokenizerIdentity.of(tokenizerData),
                vocabularySize: first.vocabularySize, bosId: first.bosID.map(Int.init), eosId: Int(eos),
                bosPerDocument: bosPerDocument, eosPerDocument: true),
            dtype: dtype.name, dtypeCode: Int(dtype.rawValue), textField: options.textField,
            domainField: options.domainField,
            validation: .init(fraction: options.validationFraction, minDocuments: options.validationMinimumDocuments, hash: "sha256-prefix64"),
            inputs: inputRecords, domains: domains, documents: totals.documents, tokens: totals.tokens)
        let indexFile = try DataFileWriter(path: output.temporaryPath + "/" + DataIndex.fileName)
        try indexFile.write(try index.encoded())
        try indexFile.finish()
        try output.commit()
        return index
    }

    /// One tokenizer per thread (each has its own word cache), built concurrently.
    private static func makeTokenizers(_ data: TokenizerData, count: Int) throws -> [any TextTokenizer] {
        final class Slots: @unchecked Sendable {
            var results: [Result<any TextTokenizer, TokenizerError>?]
            init(_ count: Int) { results = Array(repeating: nil, count: count) }
        }
        let slots = Slots(count)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: count) { i in
            let result: Result<any TextTokenizer, TokenizerError>
            do throws(TokenizerError) { result = .success(try TokenizerFactory.make(data)) } catch { result = .failure(error) }
            lock.lock()
            slots.results[i] = result
            lock.unlock()
        }
        return try slots.results.map { try $0!.get() }
    }

    /// Documents read but not yet tokenised.
    private struct Batch {
        var texts: [String] = []
        var domains: [Int] = []
        /// Input of the last document (for progress).
        var lastInput = (number: 0, path: "")
    }

    /// Per-batch results, each slot written by exactly one worker.
    private final class BatchWork: @unchecked Sendable {
        let next = Atomic<Int>(0)
        let ids: UnsafeMutableBufferPointer<[Int32]>
        let hashes: UnsafeMutableBufferPointer<UInt64>

        init(count: Int) {
            ids = .allocate(capacity: count)
            ids.initialize(repeating: [])
            hashes = .allocate(capacity: count)
            hashes.initialize(repeating: 0)
        }

        deinit {
            ids.deinitialize()
            ids.deallocate()
            hashes.deallocate()
        }
    }
}
