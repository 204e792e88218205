/// Draws training batches from a prepared data directory: each row picks a domain with probability equal to its
/// mixture weight (SplitMix64, seeded) and takes that domain's next packed window (`DomainTokenStream`).
///
/// Everything that decides the next batch is in `cursor`; a sampler rebuilt from a saved cursor continues with
/// exactly the batches the original would have drawn.
public final class BatchSampler {
    public let dataset: PreparedDataset
    public let sequenceLength: Int
    public let seed: UInt64
    public private(set) var step = 0
    /// Current mixture weights (in `dataset.domainNames` order).
    public private(set) var weights: [Double]
    private var random: SamplerRandom
    private var streams: [DomainTokenStream?]

    /// A sampler at step 0.
    /// - Parameters:
    ///   - sequenceLength: T; windows hold T + 1 tokens.
    ///   - weights: a distribution over the dataset's domains (e.g. `DomainMixture.weights`).
    /// - Throws: `TrainingDataError` when a weighted domain has no training tokens or the weights are invalid.
    public init(dataset: PreparedDataset, sequenceLength: Int, seed: UInt64, weights: [Double]) throws(TrainingDataError) {
        guard sequenceLength > 0 else { throw .invalidOption("sequence length must be positive, got \(sequenceLength)") }
        self.dataset = dataset
        self.sequenceLength = sequenceLength
        self.seed = seed
        self.weights = []
        random = SamplerRandom(state: SamplerRandom.derive(seed, 0x6D69_7874))
        streams = []
        for (index, name) in dataset.domainNames.enumerated() {
            streams.append(dataset.train[index].tokenCount > 0
                ? try DomainTokenStream(dataset: dataset.train[index], seed: seed, domainIndex: index, name: name) : nil)
        }
        try setWeights(weights)
    }

    /// A sampler continuing from `cursor`.
    /// - Throws: `TrainingDataError.cursorMismatch` when the cursor was made for other data.
    public convenience init(dataset: PreparedDataset, cursor: SamplerCursor) throws(TrainingDataError) {
        guard cursor.version == 1 else { throw .cursorMismatch(problem: "version \(cursor.version), expected 1") }
        guard cursor.tokenizerIdentity == dataset.index.tokenizer.identity else {
            throw .cursorMismatch(problem: "tokenizer \(cursor.tokenizerIdentity) ≠ the data's \(dataset.index.tokenizer.identity)")
        }
        let names = dataset.domainNames
        guard cursor.domains.map(\.name) == names,
            zip(cursor.domains, dataset.train).allSatisfy({ $0.documents == $1.count })
        else {
            throw .cursorMismatch(problem: "domains \(cursor.domains.map { "\($0.name):\($0.documents)" }) ≠ the data's \(zip(names, dataset.train).map { "\($0):\($1.count)" })")
        }
        guard cursor.randomState.count == 16, let state = UInt64(cursor.randomState, radix: 16) else {
            throw .cursorMismatch(problem: "random_state '\(cursor.randomState)' is not 16 hex digits")
        }
        try self.init(dataset: dataset, sequenceLength: cursor.sequenceLength, seed: cursor.seed, weights: cursor.weights)
        for (index, position) in cursor.domains.enumerated() {
            guard streams[index] != nil else { continue }
            let train = dataset.train[index]
            guard position.epoch >= 0, position.document >= 0, position.document < train.count, position.offset >= 0,
                position.offset < Int(train.lengths[Int(DomainTokenStream.permutation(
                    count: train.count, seed: cursor.seed, domainIndex: index, epoch: position.epoch)[position.document])])
            else { throw .cursorMismatch(problem: "position of domain \(position.name) is outside its data") }
            streams[index]!.epoch = position.epoch
            streams[index]!.document = position.document
            streams[index]!.offset = position.offset
        }
        random = SamplerRandom(state: state)
        step = cursor.step
    }

    /// Sets new mixture weights (after a dynamic update).
    /// - Throws: `TrainingDataError` unless `newWeights` is a distribution and every weighted domain has tokens.
    public func setWeights(_ newWeights: [Double]) throws(TrainingDataError) {
        let total = newWeights.reduce(0, +)
        guard newWeights.count == streams.count, newWeights.allSatisfy({ $0 >= 0 && $0.isFinite }), abs(total - 1) < 1e-9 else {
            throw .invalidMixture(spec: "\(newWeights)", problem: "weights must be a distribution over \(streams.count) domains")
        }
        for (index, weight) in newWeights.enumerated() where weight > 0 && streams[index] == nil {
            throw .emptyDomain(name: dataset.domainNames[index], split: "train")
        }
        weights = newWeights
    }

    /// The sampler's state.
    public var cursor: SamplerCursor {
        SamplerCursor(
            seed: seed, sequenceLength: sequenceLength, step: step,
            randomState: String(random.state, radix: 16).leftPadded(to: 16), weights: weights,
            tokenizerIdentity: dataset.index.tokenizer.identity,
            domains: dataset.domainNames.enumerated().map { index, name in
                let stream = streams[index]
                return .init(name: name, documents: dataset.train[index].count, epoch: stream?.epoch ?? 0,
                    document: stream?.document ?? 0, offset: stream?.offset ?? 0)
            })
    }

    /// Draws the next batch of `size` rows.
    public func nextBatch(size: Int) -> TokenBatch {
        let width = sequenceLength + 1
        var domains = [Int](repeating: 0, count: size)
        var tokens = [Int32](repeating: 0, count: size * width)
        tokens.withUnsafeMutableBufferPointer { buffer in
            for row in 0..<size {
                let domain = drawDomain()
                domains[row] = domain
                streams[domain]!.nextWindow(length: sequenceLength, into: buffer.baseAddress! + row * width)
            }
        }
        step += 1
        return TokenBatch(sequenceLength: sequenceLength, size: size, tokens: tokens, domains: domains)
    }

    private func drawDomain() -> Int {
        let u = random.nextUnit()
        var cumulative = 0.0
        var last = 0
        for (index, weight) in weights.enumerated() where weight > 0 {
            cumulative += weight
            last = index
            if u < cumulative { return index }
        }
        return last
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
