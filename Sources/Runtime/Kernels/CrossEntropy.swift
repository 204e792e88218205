import Foundation
import TensorCore

// LM head + next-token cross-entropy (transformers `LlamaForCausalLM` loss), fused forward and backward, with optional
// distillation from a teacher's logits (Hinton et al. 2015, "Distilling the Knowledge in a Neural Network"):
// a · τ² · KL(softmax(t/τ) ‖ softmax(z/τ)) per position, whose gradient is a · τ · (softmax(z/τ) − softmax(t/τ)).

/// Distillation from a teacher: its logits [N, V] for the same rows, the coefficient a and the temperature τ.
package struct DistillationTarget {
    package let teacherLogits: UnsafePointer<Float>
    package let coefficient: Float
    package let temperature: Float
    /// [V] scratch.
    package let scratch: UnsafeMutablePointer<Float>
}

/// LM head and next-token cross-entropy, forward and backward fused over one [N, V] buffer.
///
/// logits = h · Wᵀ is written into `logits`; each row is then turned in place into its gradient
/// weight[n] · (softmax(row) − onehot(target[n])) while its loss weight[n] · (logsumexp(row) − row[target]) is summed,
/// so the [N, V] matrix exists once. Then dH = dLogits · W (overwritten) and dW += dLogitsᵀ · h.
/// Rows with weight 0 (positions without a next token) contribute nothing.
/// - Parameters: dHidden [N, D]; dWeight [V, D] (nil to skip); logits scratch [N, V]; hidden [N, D]; weight [V, D];
///   targets [N] (ignored where the weight is 0); rowWeights [N].
/// With `distillation`, each weighted row also adds weight[n] · a·τ²·KL(teacher ‖ student) to `distillationLoss`
/// and its gradient to the row before the LM head backward.
/// - Returns: Σ_n weight[n] · loss[n], accumulated in Double.
package func lmHeadCrossEntropyBackward(
    dHidden: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>?, logits: UnsafeMutablePointer<Float>,
    hidden: UnsafePointer<Float>, weight: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
    rowWeights: UnsafePointer<Float>, rows N: Int, width D: Int, vocabulary V: Int,
    distillation: DistillationTarget? = nil, distillationLoss: UnsafeMutablePointer<Double>? = nil
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
        if let kd = distillation {
            // softmax(z/τ) into scratch; KL in Double from the teacher's softmax(t/τ); scratch becomes the gradient.
            let t = kd.teacherLogits + n &* V, q = kd.scratch, inverse = 1 / kd.temperature
            let studentTop = maximum(row, count: V) * inverse, teacherTop = maximum(t, count: V) * inverse
            var studentSum = 0.0, teacherSum = 0.0
            for j in 0..<V {
                studentSum += exp(Double(row[j] * inverse - studentTop))
                teacherSum += exp(Double(t[j] * inverse - teacherTop))
            }
            let studentLSE = Double(studentTop) + log(studentSum), teacherLSE = Double(teacherTop) + log(teacherSum)
            var kl = 0.0
            let scale = rowWeight * kd.coefficient * kd.temperature
            for j in 0..<V {
                let logP = Double(t[j] * inverse) - teacherLSE, logQ = Double(row[j] * inverse) - studentLSE
                let p = exp(logP)
                kl += p * (logP - logQ)
                q[j] = scale * Float(exp(logQ) - p)
            }
            distillationLoss?.pointee += Double(rowWeight) * Double(kd.coefficient * kd.temperature * kd.temperature) * kl
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
        if let kd = distillation { for j in 0..<V { row[j] += kd.scratch[j] } }
    }
    linearBackward(dX: dHidden, dWeight: dWeight, dOut: logits, x: hidden, weight: weight, rows: N, inFeatures: D, outFeatures: V)
    return total
}
