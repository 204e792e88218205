import TensorCore

/// What a conversion needs measured on calibration text, besides the MLP inputs that are always kept.
public struct CalibrationNeeds: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// Down-proj inputs a = silu(gate·x) ⊙ (up·x) per token (co-activation split).
    public static let activations = CalibrationNeeds(rawValue: 1)
    /// Per-cluster neuron importance mean |∂L/∂a · a| (gradient and sharing splits); needs the backward pass.
    public static let importance = CalibrationNeeds(rawValue: 2)
}

/// Statistics of one dense layer measured by running the dense model on calibration text
/// (`CalibrationCollector`). Rows are calibration tokens, in document order.
public struct LayerCalibration: Sendable {
    /// MLP inputs x (outputs of `post_attention_layernorm`) `[T, H]`: calibrated rescaling, mean/variance
    /// alignment, `hidden` router init.
    public var mlpInputs: FloatTensor
    /// Down-proj inputs `[T, I]`, when `.activations` was requested.
    public var activations: FloatTensor?
    /// Importance `[clusters][I]`, when `.importance` was requested; one row per document cluster.
    public var importance: [[Float]]?
    /// The document cluster of every row of `mlpInputs` (labels in `0..<clusters`).
    public var tokenLabels: [Int]

    /// Creates a layer's calibration record.
    public init(mlpInputs: FloatTensor, activations: FloatTensor? = nil, importance: [[Float]]? = nil, tokenLabels: [Int]) {
        self.mlpInputs = mlpInputs
        self.activations = activations
        self.importance = importance
        self.tokenLabels = tokenLabels
    }
}
