import Foundation

/// Learning rate per optimizer step: linear warmup from peak/warmup to the peak, then a decay to the floor
/// `minimum` at step `total` (steps count from 0).
///
/// - `constant`: the peak after warmup.
/// - `cosine`: min + (peak − min) · ½(1 + cos(π·p)), p the fraction of the post-warmup steps done (Loshchilov &
///   Hutter 2017, "SGDR"; the LLaMA / LLaMA-MoE schedule).
/// - `linear`: peak − (peak − min) · p.
/// - `wsd` (warmup-stable-decay, Hu et al. 2024, "MiniCPM"): the peak until the last `decayFraction` of the steps,
///   then linear to the floor.
public struct LearningRateSchedule: Sendable, Equatable {
    public enum Shape: String, Sendable, CaseIterable {
        case constant, cosine, linear, wsd
    }

    public var shape: Shape
    public var peak: Float
    public var minimum: Float
    public var warmupSteps: Int
    public var totalSteps: Int
    /// `wsd` only: share of the steps spent decaying (default 0.1).
    public var decayFraction: Double

    public init(
        shape: Shape, peak: Float, minimum: Float = 0, warmupSteps: Int = 0, totalSteps: Int, decayFraction: Double = 0.1
    ) {
        self.shape = shape
        self.peak = peak
        self.minimum = minimum
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.decayFraction = decayFraction
    }

    /// The learning rate of step `step` (0-based).
    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
        let span = max(1, totalSteps - warmupSteps)
        let progress = min(1, Double(step - warmupSteps) / Double(span))
        let range = Double(peak - minimum)
        switch shape {
        case .constant:
            return peak
        case .cosine:
            return minimum + Float(range * 0.5 * (1 + cos(Double.pi * progress)))
        case .linear:
            return minimum + Float(range * (1 - progress))
        case .wsd:
            let decaySteps = max(1, Int((Double(totalSteps) * decayFraction).rounded()))
            let decayStart = totalSteps - decaySteps
            guard step >= decayStart else { return peak }
            let p = min(1, Double(step - decayStart) / Double(decaySteps))
            return minimum + Float(range * (1 - p))
        }
    }
}
