import Foundation
import Runtime
import TensorCore

/// AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization"), as PyTorch's `torch.optim.AdamW`
/// computes it, over caller-owned flat buffers in one `ParameterLayout`:
///
///     p ← p · (1 − lr · λ)                      (decoupled decay, only where the segment decays)
///     m ← β1 · m + (1 − β1) · g
///     v ← β2 · v + (1 − β2) · g²
///     p ← p − lr · (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε)
///
/// lr is the step's rate times the segment's scale (`ParameterGroups`); a segment with scale 0 is frozen: neither it
/// nor its moments change. The moments are `ParameterBuffer`s of the same layout (a checkpoint saves them as they
/// are). Each segment is split across the cores. Defaults follow LLaMA-MoE / OLMoE pretraining: β1 0.9, β2 0.95,
/// ε 1e-8.
public final class AdamW: Optimizer {
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
    public let groups: ParameterGroups
    /// First and second moments.
    public let firstMoment: ParameterBuffer
    public let secondMoment: ParameterBuffer
    /// Steps taken (t of the bias correction).
    public private(set) var step = 0

    public var state: [(suffix: String, buffer: ParameterBuffer)] { [("exp_avg", firstMoment), ("exp_avg_sq", secondMoment)] }

    /// - Parameters:
    ///   - layout: the parameters' layout.
    ///   - groups: per-tensor learning-rate scale and decay; default: everything trains, no decay on norms, biases and
    ///     embeddings (and a tied LM head, which is the embedding), as LLaMA-MoE / OLMo do.
    public init(layout: ParameterLayout, settings: Settings = Settings(), groups: ParameterGroups? = nil) {
        self.settings = settings
        self.groups = groups ?? ParameterGroups(layout: layout)
        firstMoment = ParameterBuffer(layout: layout)
        secondMoment = ParameterBuffer(layout: layout)
    }

    public func restore(step: Int) { self.step = step }

    /// One update of `parameters` with `gradients` at learning rate `lr`.
    public func update(parameters: ParameterBuffer, gradients: ParameterBuffer, learningRate lr: Float) {
        step += 1
        let s = settings
        let correction1 = 1 - pow(s.beta1, Float(step)), correction2 = 1 - pow(s.beta2, Float(step))
        let p = SendablePointer(parameters.withUnsafeMutableBufferPointer { $0.baseAddress! })
        let g = SendableConstPointer(UnsafePointer(gradients.withUnsafeBufferPointer { $0.baseAddress! }))
        let m = SendablePointer(firstMoment.withUnsafeMutableBufferPointer { $0.baseAddress! })
        let v = SendablePointer(secondMoment.withUnsafeMutableBufferPointer { $0.baseAddress! })
        for segment in groups.segments where segment.learningRateScale != 0 {
            let rate = lr * segment.learningRateScale
            let shrink = 1 - rate * (segment.decays ? s.weightDecay : 0)
            let base = segment.offset
            Parallel.forEachChunk(segment.count, minChunk: 1 << 16) { range in
                let p = p.pointer + base, g = g.pointer + base, m = m.pointer + base, v = v.pointer + base
                for i in range {
                    let gi = g[i]
                    m[i] = s.beta1 * m[i] + (1 - s.beta1) * gi
                    v[i] = s.beta2 * v[i] + (1 - s.beta2) * gi * gi
                    p[i] = p[i] * shrink - rate * (m[i] / correction1) / ((v[i] / correction2).squareRoot() + s.epsilon)
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
