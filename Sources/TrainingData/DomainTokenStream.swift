/// One domain's training tokens as an endless stream: epoch after epoch, the documents in a seeded permutation
/// (a fresh one per epoch) packed back to back with no padding, as LLaMA-MoE packs SlimPajama.
struct DomainTokenStream {
    let dataset: IndexedDataset
    let seed: UInt64
    let domainIndex: Int
    var epoch = 0
    var document = 0
    var offset = 0
    private var cachedEpoch = -1
    private var cachedPermutation: [Int32] = []

    init(dataset: IndexedDataset, seed: UInt64, domainIndex: Int, name: String) throws(TrainingDataError) {
        guard dataset.tokenCount > 0 else { throw .emptyDomain(name: name, split: "train") }
        self.dataset = dataset
        self.seed = seed
        self.domainIndex = domainIndex
    }

    /// Fisher–Yates permutation of the documents for `epoch`, from SplitMix64 seeded by (seed, domain, epoch).
    static func permutation(count: Int, seed: UInt64, domainIndex: Int, epoch: Int) -> [Int32] {
        var order = (0..<count).map { Int32($0) }
        var random = SamplerRandom(state: SamplerRandom.derive(seed, UInt64(domainIndex), UInt64(epoch)))
        if count > 1 {
            for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, random.next(below: i + 1)) }
        }
        return order
    }

    private mutating func sequence(epoch: Int, document: Int) -> Int {
        if epoch != cachedEpoch {
            cachedPermutation = Self.permutation(count: dataset.count, seed: seed, domainIndex: domainIndex, epoch: epoch)
            cachedEpoch = epoch
        }
        return Int(cachedPermutation[document])
    }

    /// Copies `count` tokens starting at (epoch, document, offset) to `destination` (when given) and returns the
    /// position after them.
    private mutating func walk(
        from start: (epoch: Int, document: Int, offset: Int), count: Int, into destination: UnsafeMutablePointer<Int32>?
    ) -> (epoch: Int, document: Int, offset: Int) {
        var (e, d, o) = start
        var remaining = count
        var written = 0
        while true {
            if d == dataset.count {
                e += 1
                d = 0
                o = 0
            }
            let s = sequence(epoch: e, document: d)
            let length = Int(dataset.lengths[s])
            if o == length {
                d += 1
                o = 0
                continue
            }
            if remaining == 0 { break }
            let n = min(remaining, length - o)
            if let destination { dataset.copyTokens(sequence: s, offset: o, count: n, into: destination + written) }
            written += n
            remaining -= n
            o += n
        }
        return (e, d, o)
    }

    /// Writes the next window of `length + 1` tokens and advances by `length` (consecutive windows share one
    /// token, as Megatron's `GPTDataset` samples: inputs are the first `length`, targets the last `length`).
    mutating func nextWindow(length: Int, into destination: UnsafeMutablePointer<Int32>) {
        let after = walk(from: (epoch, document, offset), count: length, into: destination)
        _ = walk(from: after, count: 1, into: destination + length)
        (epoch, document, offset) = after
    }
}
