import Conversion
import Dispatch
import Foundation
import IOCore
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
        // Start-up work overlaps: the tokenizers and the tokenizer identity are built on another thread while
        // this one opens the output and reads the first batch, and the inputs' SHA-256 runs on a third, ahead
        // of the reader (the digests are needed only when an input is finished).
        let setup = Setup()
        let setupDone = DispatchGroup(), identityDone = DispatchGroup()
        DispatchQueue.global().async(group: setupDone) {
            do throws(TokenizerError) { setup.tokenizers = .success(try Self.makeTokenizers(tokenizerData, count: workers)) } catch {
                setup.tokenizers = .failure(error)
            }
        }
        DispatchQueue.global().async(group: identityDone) { setup.identity = TokenizerIdentity.of(tokenizerData) }
        let digests = InputDigests(paths: options.inputs.map(\.path))
        defer { digests.cancel() }
        var tokenizers: [any TextTokenizer] = []
        var eos: Int32 = 0
        var dtype = TokenDType.int32
        func awaitTokenizers() throws {
            guard tokenizers.isEmpty else { return }
            setupDone.wait()
            tokenizers = try setup.tokenizers!.get()
            guard let id = tokenizers[0].eosID else {
                throw TrainingDataError.unusableTokenizer("the vocabulary has no EOS token to end documents with")
            }
            eos = id
            dtype = TokenDType.optimal(vocabularySize: tokenizers[0].vocabularySize)
        }

        let output: OutputDirectory
        do { output = try OutputDirectory(path: options.output, force: options.force, inputs: options.inputs.map(\.path)) } catch {
            try awaitTokenizers()  // a tokenizer error comes first, as when the tokenizers were built before
            throw error
        }
        defer { output.discard() }
        var inputRecords: [DataIndex.InputRecord] = []
        // Domains are numbered as the reader meets them; their builders are created once the dtype is known.
        var domainNames: [String] = []
        var builders: [DomainBuilder] = []
        var builderIndex: [String: Int] = [:]
        func builder(for name: String, source: String) throws -> Int {
            if let index = builderIndex[name] { return index }
            try CorpusInput.validateDomainName(name, source: source)
            let index = domainNames.count
            domainNames.append(name)
            builderIndex[name] = index
            return index
        }
        func createBuilders() throws {
            while builders.count < domainNames.count {
                builders.append(try DomainBuilder(
                    name: domainNames[builders.count], directory: output.temporaryPath, dtype: dtype, selector: selector))
            }
        }

        var start = Date()  // reset once the tokenizers are ready
        var totals = (documents: 0, tokens: 0, textBytes: 0)
        // Reading runs one batch ahead of tokenisation and continues from one input into the next, so the
        // tokenizer threads never wait for a file to be opened.
        var reading: (number: Int, input: CorpusInput, reader: CorpusReader, domain: Int?, documents: Int)?
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
            let digest = try digests.digest(current.number)
            let size = (try? FileManager.default.attributesOfItem(atPath: input.path)[.size] as? Int) ?? 0
            inputRecords.append(DataIndex.InputRecord(
                path: input.path, domain: input.domain, format: input.format.rawValue, sha256: digest, bytes: size,
                textBytes: reader.bytesRead, documents: current.documents, skippedLines: reader.skippedLines))
            reading = nil
        }
        // The first batches are small so the tokenizer threads start early; later ones are batchBytes.
        var batchLimit = min(options.batchBytes, 1 << 16)
        func readBatch() throws -> Batch {
            var batch = Batch()
            batch.text.reserveCapacity(batchLimit + (1 << 16))
            defer { batchLimit = min(options.batchBytes, 2 * batchLimit) }
            while batch.text.count < batchLimit {
                if reading == nil {
                    guard nextInput < options.inputs.count else { break }
                    let input = options.inputs[nextInput]
                    let reader = try CorpusReader(
                        path: input.path, format: input.format, textField: options.textField,
                        domainField: input.domain == nil ? options.domainField : nil, skipBadLines: options.skipBadLines)
                    let domain = try input.domain.map { try builder(for: $0, source: input.path) }
                    reading = (nextInput, input, reader, domain, 0)
                    nextInput += 1
                }
                guard let document = try reading!.reader.next(appendingTextTo: &batch.text) else {
                    try finishInput()
                    continue
                }
                let path = reading!.input.path
                let domain = try reading!.domain ?? builder(for: document.domain ?? "", source: "\(path):\(document.line)")
                reading!.documents += 1
                batch.ends.append(batch.text.count)
                batch.domains.append(domain)
                batch.lastInput = (reading!.number, path)
            }
            return batch
        }

        let firstBatch: Batch
        do { firstBatch = try readBatch() } catch {
            try awaitTokenizers()
            throw error
        }
        try awaitTokenizers()
        start = Date()
        let workerTokenizers = tokenizers, eosID = eos
        let bosPerDocument = tokenizers[0].encode("", addBOS: true, parseSpecial: false).first.map { $0 == tokenizers[0].bosID } ?? false
        // The workers take documents from a queue of up to `queueDepth` read batches, oldest first, and move on
        // to the next batch without waiting; this thread keeps reading ahead and writes finished batches in
        // input order. Reading, tokenising and writing all overlap, so the workers never wait for a batch
        // boundary, and the reader only waits when the queue is full.
        let queue = WorkQueue()
        let workersDone = DispatchGroup()
        for worker in 0..<workers {
            let tokenizer = workerTokenizers[worker]
            DispatchQueue.global().async(group: workersDone) {
                while let (job, documents) = queue.claim() {
                    job.batch.text.withUnsafeBufferPointer { all in
                        for i in documents {
                            let text = UnsafeBufferPointer(rebasing: all[job.batch.range(i)])
                            var ids = tokenizer.encode(validUTF8: text, addBOS: true, parseSpecial: false)
                            ids.append(eosID)
                            job.work.ids[i] = ids
                            job.work.hashes[i] = ValidationSelector.hash(utf8: text)
                        }
                    }
                    queue.finished(job, count: documents.count)
                }
            }
        }
        defer {
            queue.close()
            workersDone.wait()
        }
        func write(_ done: Job) throws {
            try createBuilders()
            let work = done.work, count = done.batch.count
            for i in 0..<count {
                try builders[done.batch.domains[i]].add(work.ids[i], hash: work.hashes[i])
                totals.tokens += work.ids[i].count
            }
            totals.documents += count
            progress(DataPreparationProgress(
                input: done.batch.lastInput.path, inputNumber: done.batch.lastInput.number + 1, inputCount: options.inputs.count,
                documents: totals.documents, tokens: totals.tokens, textBytes: totals.textBytes + (reading?.reader.bytesRead ?? 0),
                elapsedSeconds: Date().timeIntervalSince(start)))
        }

        let queueDepth = 4
        var batch = firstBatch
        var endOfInput = batch.count == 0
        if !endOfInput { queue.push(Job(batch)) }
        while true {
            // Read ahead while there is room, writing any batch that finished meanwhile.
            if !endOfInput, queue.count < queueDepth {
                batch = try readBatch()
                if batch.count == 0 { endOfInput = true } else { queue.push(Job(batch)) }
                if let done = queue.popFinished(wait: false) { try write(done) }
                continue
            }
            guard let done = queue.popFinished(wait: true) else { break }
            try write(done)
        }
        try createBuilders()
        var domains: [DataIndex.DomainRecord] = []
        for builder in builders { domains.append(try builder.finish()) }
        let first = tokenizers[0]
        let index = DataIndex(
            moekitVersion: MoekitVersion.string,
            tokenizer: .init(
                model: tokenizerData.model, identity: { identityDone.wait(); return setup.identity! }(),
                vocabularySize: first.vocabularySize, bosId: first.bosID.map(Int.init), eosId: Int(eos),
                bosPerDocument: bosPerDocument, eosPerDocument: true),
            dtype: dtype.name, dtypeCode: Int(dtype.rawValue), textField: options.textField,
            domainField: options.domainField,
            validation: .init(fraction: options.validationFraction, minDocuments: options.validationMinimumDocuments, hash: ValidationSelector.hashName),
            inputs: inputRecords, domains: domains, documents: totals.documents, tokens: totals.tokens)
        let indexFile = try DataFileWriter(path: output.temporaryPath + "/" + DataIndex.fileName)
        try indexFile.write(try index.encoded())
        try indexFile.finish()
        try output.commit()
        return index
    }

    /// One tokenizer per thread, each with its own word cache. Byte-level BPE tokenizers share the first one's
    /// immutable tables (`withOwnCache`); others are built concurrently.
    private static func makeTokenizers(_ data: TokenizerData, count: Int) throws(TokenizerError) -> [any TextTokenizer] {
        let first = try TokenizerFactory.make(data)
        if let bpe = first as? ByteLevelBPETokenizer {
            return [first] + (1..<count).map { _ in bpe.withOwnCache() }
        }
        final class Slots: @unchecked Sendable {
            var results: [Result<any TextTokenizer, TokenizerError>?]
            init(_ count: Int) { results = Array(repeating: nil, count: count) }
        }
        let slots = Slots(count)
        slots.results[0] = .success(first)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: count - 1) { i in
            let result: Result<any TextTokenizer, TokenizerError>
            do throws(TokenizerError) { result = .success(try TokenizerFactory.make(data)) } catch { result = .failure(error) }
            lock.lock()
            slots.results[i + 1] = result
            lock.unlock()
        }
        return try slots.results.map { result throws(TokenizerError) in try result!.get() }
    }

    /// Results of the start-up thread.
    private final class Setup: @unchecked Sendable {
        var tokenizers: Result<[any TextTokenizer], TokenizerError>?
        var identity: String?
    }

    /// SHA-256 of every input, computed in order on a background thread while the inputs are read.
    private final class InputDigests: @unchecked Sendable {
        private let condition = NSCondition()
        private var results: [Result<String, Error>?]
        private var cancelled = false

        init(paths: [String]) {
            results = Array(repeating: nil, count: paths.count)
            DispatchQueue.global().async { [self] in
                for (i, path) in paths.enumerated() {
                    condition.lock()
                    let stop = cancelled
                    condition.unlock()
                    if stop { break }
                    let result = Result { try SHA256.hex(file: path) }
                    condition.lock()
                    results[i] = result
                    condition.broadcast()
                    condition.unlock()
                }
            }
        }

        /// The digest of input `i`, waiting for it.
        func digest(_ i: Int) throws -> String {
            condition.lock()
            defer { condition.unlock() }
            while results[i] == nil { condition.wait() }
            return try results[i]!.get()
        }

        /// Stops after the current file (on errors, so a failed run does not hash the remaining inputs).
        func cancel() {
            condition.lock()
            cancelled = true
            condition.unlock()
        }
    }

    /// A batch queued for the workers, with its results.
    private final class Job: @unchecked Sendable {
        let batch: Batch
        let work: BatchWork
        /// Next document to hand out and documents finished; guarded by the queue's lock.
        var next = 0
        var finished = 0
        init(_ batch: Batch) {
            self.batch = batch
            work = BatchWork(count: batch.count)
        }
    }

    /// Batches in input order, shared by the reader/writer thread and the workers.
    private final class WorkQueue: @unchecked Sendable {
        private let condition = NSCondition()
        private var jobs: [Job] = []
        /// Index in `jobs` of the first batch with documents not yet handed out.
        private var open = 0
        private var closed = false

        /// Batches queued and not yet popped.
        var count: Int {
            condition.lock()
            defer { condition.unlock() }
            return jobs.count
        }

        func push(_ job: Job) {
            condition.lock()
            jobs.append(job)
            condition.broadcast()
            condition.unlock()
        }

        /// Text bytes handed out per claim (at least one document): few lock round trips per batch, and still
        /// many claims per batch so the workers finish a batch together.
        static let claimBytes = 32 << 10

        /// The next documents to tokenise (consecutive, of one batch), waiting for some; nil once closed.
        func claim() -> (Job, Range<Int>)? {
            condition.lock()
            defer { condition.unlock() }
            while true {
                if closed { return nil }
                while open < jobs.count, jobs[open].next == jobs[open].batch.count { open += 1 }
                if open < jobs.count {
                    let job = jobs[open], batch = job.batch
                    let first = job.next, start = batch.range(first).lowerBound
                    var end = first + 1
                    while end < batch.count, batch.ends[end] - start <= Self.claimBytes { end += 1 }
                    job.next = end
                    return (job, first..<end)
                }
                condition.wait()
            }
        }

        /// Marks `count` documents of `job` done.
        func finished(_ job: Job, count: Int) {
            condition.lock()
            job.finished += count
            if job.finished == job.batch.count { condition.broadcast() }
            condition.unlock()
        }

        /// Removes and returns the oldest batch once all its documents are done (waiting for that when `wait`);
        /// nil when the queue is empty (or, without `wait`, when the oldest is not done).
        func popFinished(wait: Bool) -> Job? {
            condition.lock()
            defer { condition.unlock() }
            while let first = jobs.first {
                if first.finished == first.batch.count {
                    jobs.removeFirst()
                    open = max(0, open - 1)
                    return first
                }
                guard wait else { return nil }
                condition.wait()
            }
            return nil
        }

        /// Lets the workers exit (after their current document).
        func close() {
            condition.lock()
            closed = true
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Documents read but not yet tokenised: their UTF-8 texts back to back (one allocation per batch, not one
    /// `String` per document).
    private struct Batch {
        var text: [UInt8] = []
        /// End offset in `text` of each document.
        var ends: [Int] = []
        var domains: [Int] = []
        var count: Int { ends.count }
        func range(_ i: Int) -> Range<Int> { (i == 0 ? 0 : ends[i - 1])..<ends[i] }
        /// Input of the last document (for progress).
        var lastInput = (number: 0, path: "")
    }

    /// Per-batch results, each slot written by exactly one worker.
    private final class BatchWork: @unchecked Sendable {
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
