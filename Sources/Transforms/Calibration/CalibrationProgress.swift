/// Where a calibration pass stands, reported after every sample of the forward pass and after every batch of the
/// importance (backward) pass, so a long calibration shows samples/s and an ETA.
public struct CalibrationProgress: Sendable, Equatable {
    /// The two passes over the calibration samples.
    public enum Phase: String, Sendable {
        /// Forward probes recording every layer's MLP inputs (and activations when a method needs them).
        case forward
        /// Forward + backward passes scoring FFN neurons (gradient and sharing methods), one per cluster's samples.
        case importance
    }

    public var phase: Phase
    /// Samples finished in this phase.
    public var samplesDone: Int
    /// Samples this phase processes in all.
    public var samplesTotal: Int
    /// Tokens of the finished samples.
    public var tokensDone: Int

    public init(phase: Phase, samplesDone: Int, samplesTotal: Int, tokensDone: Int) {
        self.phase = phase
        self.samplesDone = samplesDone
        self.samplesTotal = samplesTotal
        self.tokensDone = tokensDone
    }

    /// Whether the phase has processed every sample.
    public var isPhaseFinished: Bool { samplesDone == samplesTotal }
}

/// Receives calibration progress; called on the calibrating thread.
public typealias CalibrationProgressHandler = (CalibrationProgress) -> Void
