import Foundation
import Runtime

/// AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization"), as PyTorch's `torch.optim.AdamW`
/// computes it, over caller-owned flat buffers in one `ParameterLayout`:
///
///     p ← p · (1 − lr · λ)                      (decoupled decay, only where `decays`)
///     m ← β1 · m + (1 − β1) · g
///     v ← β2 · v + (1 − β2) · g²
///     p ← p − lr · (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε)
///
/// The moments are `ParameterBuffer`s of the same layout (so a checkpoint saves them as they are); one step is one
/// loop over equal offsets. Defaults follow LLaMA-MoE / OLMoE pretraining: β1 0.9, β2 0.95, ε 1e-8.
public final class AdamW {
    public struct Settings: Sendable, Equatable {
        public var beta1: Float
        public var beta2: Float
        public var epsilon: Float
        /// λ, the decoupled weight decay.
        public var weightDecay: Float

        public init(beta1: Float = 0.9, beta2: Float = 0.95, epsilon: Float = 1e-8, weightDecay: Float = 0.1) {
            self.beta1 = beta1
            self.beta2 = beta2
            self.epsilon = epsilon
            self.weightDecay = weightDecay
        }
    }

    public let settings: Settings
    /// First and second moments.
    public let firstMoment: ParameterBuffer
    public let secondMoment: ParameterBuffer
    /// Steps taken (t of the bias correction).
    public private(set) var step = 0
    /// 1 where weight decay applies, 0 elsewhere, per float of the layout.
    private let decayMask: [Float]

    /// - Parameters:
    ///   - layout: the parameters' layout.
    ///   - decays: whether a tensor (by its checkpoint name) gets weight decay; the default exempts norms, biases and
    ///     the embeddings (and a tied LM head, which is the embedding), as LLaMA-MoE / OLMo do.
    public init(layout: ParameterLayout, settings: Settings = Settings(), decays: ((String) -> Bool)? = nil) {
        self.settings = settings
        firstMoment = ParameterBuffer(layout: layout)
        secondMoment = ParameterBuffer(layout: layout)
        var mask = [Float](repeating: 0, count: layout.count)
        let decides = decays ?? AdamW.decaysByDefault
        for (name, slice) in layout.names where decides(name) && slice != layout.embedding {
            for i in slice.offset..<(slice.offset + slice.count) { mask[i] = 1 }
        }
        decayMask = mask
    }

    /// No decay on norms, biases and embeddings.
    public static func decaysByDefault(_ name: String) -> Bool {
        !(name.hasSuffix("norm.weight") || name.hasSuffix(".bias") || name.contains("embed_tokens"))
    }

    /// Resumes from saved moments and step count.
    public func restore(step: Int, first: ParameterBuffer, second: ParameterBuffer) {
        self.step = step
        firstMoment.copy(from: first)
        secondMoment.copy(from: second)
    }

    /// One update of `parameters` with `gradients` at learning rate `lr` (`lrScale[i]` multiplies it per float when
    /// given, e.g. a router learning-rate multiplier; 0 freezes).
    public func update(parameters: ParameterBuffer, gradients: ParameterBuffer, learningRate lr: Float, lrScale: [Float]? = nil) {
        step += 1
        let s = settings
        let correction1 = 1 - pow(s.beta1, Float(step)), correction2 = 1 - pow(s.beta2, Float(step))
        parameters.withUnsafeMutableBufferPointer { p in
            gradients.withUnsafeBufferPointer { g in
                firstMoment.withUnsafeMutableBufferPointer { m in
                    secondMoment.withUnsafeMutableBufferPointer { v in
                        decayMask.withUnsafeBufferPointer { decay in
                            for i in 0..<p.count {
                                let rate = lrScale.map { lr * $0[i] } ?? lr
                                if rate == 0 { continue }
                                let gi = g[i]
                                m[i] = s.beta1 * m[i] + (1 - s.beta1) * gi
                                v[i] = s.beta2 * v[i] + (1 - s.beta2) * gi * gi
                                var value = p[i] * (1 - rate * s.weightDecay * decay[i])
                                value -= rate * (m[i] / correction1) / ((v[i] / correction2).squareRoot() + s.epsilon)
                                p[i] = value
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Global-norm gradient clipping (PyTorch `clip_grad_norm_`): scales every gradient by min(1, maxNorm / ‖g‖₂).
/// - Returns: the norm before clipping (accumulated in Double).
@discardableResult
public func clipGradientNorm(_ gradients: ParameterBuffer, maxNorm: Float) -> Double {
    gradients.withUnsafeMutableBufferPointer { g in
        var sum = 0.0
        for x in g { sum += Double(x) * Double(x) }
        let norm = sum.squareRoot()
        if maxNorm > 0 && norm > Double(maxNorm) {
            let scale = Float(Double(maxNorm) / (norm + 1e-6))
            for i in 0..<g.count { g[i] *= scale }
        }
        return norm
    }
}
