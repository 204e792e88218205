import TensorCore

/// Drop-Upcycling partial re-initialisation (arXiv 2502.19261; Taishi-N324/Drop-Upcycling
/// `conversions/drop_upcycling.py`).
public enum DropUpcycling {
    /// The positions (within an expert of width `width`, ascending) that expert `expert` re-initialises: a seeded
    /// random subset of size ⌊ratio · width⌋, one per expert, shared by its gate, up and down matrices.
    public static func dropSet(expert: Int, width: Int, ratio: Double, seed: UInt64) -> [Int] {
        let count = Int((ratio * Double(width)).rounded(.down))
        guard count > 0 else { return [] }
        var rng = TransformRandom(seed: seed, stream: 0x4452_0000 &+ UInt64(expert))
        var positions = Array(0..<width)
        // Partial Fisher–Yates: the first `count` entries are a uniform random subset.
        for i in 0..<count {
            let j = i + rng.nextIndex(below: width - i)
            positions.swapAt(i, j)
        }
        return Array(positions.prefix(count)).sorted()
    }

    /// Overwrites the rows `positions` of gate and up and the same columns of down with samples of N(μ, σ²), where
    /// μ and σ (unbiased, as `torch.std`) are the mean and standard deviation of the values being replaced in that
    /// matrix. Each matrix uses its own seeded stream.
    static func reinitialize(_ expert: inout Expert, positions: [Int], expertIndex: Int, seed: UInt64) {
        guard !positions.isEmpty else { return }
        let h = expert.hiddenSize
        let w = expert.width
        // Flat indices of the replaced entries, per matrix.
        let rowEntries = positions.flatMap { p in (0..<h).map { p &* h &+ $0 } }
        let columnEntries = (0..<h).flatMap { row in positions.map { row &* w &+ $0 } }
        func refill(_ values: inout [Float], entries: [Int], stream: UInt64) {
            var sum = 0.0
            for i in entries { sum += Double(values[i]) }
            let mean = sum / Double(entries.count)
            var sq = 0.0
            for i in entries { sq += (Double(values[i]) - mean) * (Double(values[i]) - mean) }
            let std = entries.count > 1 ? (sq / Double(entries.count - 1)).squareRoot() : 0
            var rng = TransformRandom(seed: seed, stream: 0x4452_0000_0000 &+ UInt64(expertIndex) &* 4 &+ stream)
            let samples = rng.normals(count: entries.count, mean: mean, std: std)
            for (k, i) in entries.enumerated() { values[i] = samples[k] }
        }
        refill(&expert.gate.values, entries: rowEntries, stream: 1)
        refill(&expert.up.values, entries: rowEntries, stream: 2)
        refill(&expert.down.values, entries: columnEntries, stream: 3)
    }
}
