import Foundation
import Formats

extension ExpertRouting {
    /// Selects the top `k` of `logits` (ties: lower expert index first) and returns `(expert, weight)` pairs in
    /// selection order, weights before any score scale, softmax in Double: the transforms' reference routing (the
    /// runtime's Float kernel is `route(logits:experts:topK:scale:…)`).
    public func route(logits: UnsafeBufferPointer<Float>, k: Int) -> [(expert: Int, weight: Float)] {
        let e = logits.count
        // Partial selection sort: k is small.
        var chosen = [Int]()
        chosen.reserveCapacity(k)
        var taken = [Bool](repeating: false, count: e)
        for _ in 0..<min(k, e) {
            var best = -1
            var bestValue = -Float.infinity
            for j in 0..<e where !taken[j] {
                if best < 0 || logits[j] > bestValue {
                    best = j
                    bestValue = logits[j]
                }
            }
            taken[best] = true
            chosen.append(best)
        }
        switch self {
        case .topKThenSoftmax(_, multiplyScores: false):
            return chosen.map { ($0, 1) }
        case .topKThenSoftmax(let softmax, multiplyScores: true):
            let top = chosen.map { logits[$0] }
            return zip(chosen, softmax ? ExpertRouting.softmax(top) : top).map { ($0, $1) }
        case let .softmaxThenTopK(renormalize):
            let p = ExpertRouting.softmax(Array(logits))
            var w = chosen.map { p[$0] }
            if renormalize {
                let total = w.reduce(0, +)
                if total > 0 { w = w.map { $0 / total } }
            }
            return zip(chosen, w).map { ($0, $1) }
        }
    }

    /// Numerically stable softmax (max subtraction, Double accumulation).
    static func softmax(_ z: [Float]) -> [Float] {
        guard let m = z.max() else { return [] }
        let ex = z.map { exp(Double($0 - m)) }
        let total = ex.reduce(0, +)
        return ex.map { Float($0 / total) }
    }
}
