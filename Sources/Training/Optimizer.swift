import Runtime

/// An optimizer over caller-owned flat buffers (`ParameterBuffer`s of one layout): it updates the parameters in
/// place from the gradients, per `ParameterGroups` segment, and exposes its state for checkpoints.
public protocol Optimizer: AnyObject {
    /// Updates taken so far.
    var step: Int { get }
    /// State buffers saved with a checkpoint, by suffix (`exp_avg`, `exp_avg_sq`); empty for plain SGD.
    var state: [(suffix: String, buffer: ParameterBuffer)] { get }
    /// One update at learning rate `learningRate` (times each segment's scale).
    func update(parameters: ParameterBuffer, gradients: ParameterBuffer, learningRate: Float)
    /// Sets the step count after the state buffers were filled from a checkpoint.
    func restore(step: Int)
}

/// Plain SGD as `torch.optim.SGD` without momentum: g' = g + λ·p where weight decay applies, p ← p − lr·g'. With
/// λ = 0 and lr = 1 one step gives p − g, so anyone can read the gradient off two checkpoints.
public final class SGD: Optimizer {
    public let groups: ParameterGroups
    public let weightDecay: Float
    public private(set) var step = 0
    public var state: [(suffix: String, buffer: ParameterBuffer)] { [] }

    public init(groups: ParameterGroups, weightDecay: Float = 0) {
        self.groups = groups
        self.weightDecay = weightDecay
    }

    public func update(parameters: ParameterBuffer, gradients: ParameterBuffer, learningRate lr: Float) {
        step += 1
        parameters.withUnsafeMutableBufferPointer { p in
            gradients.withUnsafeBufferPointer { g in
                for segment in groups.segments where segment.learningRateScale != 0 {
                    let rate = lr * segment.learningRateScale, decay = segment.decays ? weightDecay : 0
                    for i in segment.offset..<(segment.offset + segment.count) { p[i] -= rate * (g[i] + decay * p[i]) }
                }
            }
        }
    }

    public func restore(step: Int) { self.step = step }
}
