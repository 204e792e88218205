import Foundation
import TensorCore

// LM head + next-token cross-entropy (transformers `LlamaForCausalLM` loss), fused forward and backward.

/// LM head and next-token cross-entropy, forward and backward fused over one [N, V] buffer.
///
/// logits = h · Wᵀ is written into `logits`; each row is then turned in place into its gradient
/// weight[n] · (softmax(row) − onehot(target[n])) while its loss weight[n] · (logsumexp(row) − row[target]) is summed,
/// so the [N, V] matrix exists once. Then dH = dLogits · W (overwritten) and dW += dLogitsᵀ · h.
/// Rows with weight 0 (positions without a next token) contribute nothing.
/// - Parameters: dHidden [N, D]; dWeight [V, D] (nil to skip); logits scratch [N, V]; hidden [N, D]; weight [V, D];
///   targets [N] (ignored where the weight is 0); rowWeights [N].
/// - Returns: Σ_n weight[n] · loss[n], accumulated in Double.
package func lmHeadCrossEntropyBackward(
    dHidden: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>?, logits: UnsafeMutablePointer<Float>,
    hidden: UnsafePointer<Float>, weight: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
    rowWeights: UnsafePointer<Float>, rows N: Int, width D: Int, vocabulary V: Int
) -> Double {
    linearForward(out: logits, x: hidden, weight: weight, bias: nil, rows: N, inFeatures: D, outFeatures: V)
    var total = 0.0
    for n in 0..<N {
        let row = logits + n &* V
        let rowWeight = rowWeights[n]
        guard rowWeight != 0 else {
            row.update(repeating: 0, count: V)
            continue
        }
        let target = Int(targets[n])
        let top = maximum(row, count: V)
        let targetLogit = row[target]
        for j in 0..<V { row[j] = fastExp(row[j] - top) }
        let sumOfExps = sum(row, count: V)
        total += Double(rowWeight) * (Double(top) + Foundation.log(Double(sumOfExps)) - Double(targetLogit))
        let scale = rowWeight / sumOfExps
        for j in 0..<V { row[j] *= scale }
        row[target] -= rowWeight
    }
    linearBackward(dX: dHidden, dWeight: dWeight, dOut: logits, x: hidden, weight: weight, rows: N, inFeatures: D, outFeatures: V)
    return total
}
