import Runtime
import TensorCore

/// Layer-by-layer comparison of a dense model's FFN blocks with an MoE's: both blocks get the dense model's own FFN
/// inputs, so each layer's error is its own and not compounded by the layers below.
public enum FFNComparison {
    /// ‖ffn_moe(x_l) − ffn_dense(x_l)‖₂ / ‖ffn_dense(x_l)‖₂ per layer l, with x_l the dense model's FFN inputs on
    /// `tokens` (0 when both outputs are zero).
    /// - Throws: `TransformError.shapeMismatch` when the models differ in layer count or hidden size; `RuntimeError`
    ///   from the forward passes.
    public static func relativeErrors(dense: LanguageModel, moe: LanguageModel, tokens: [Int32]) throws -> [Float] {
        guard dense.config.layerCount == moe.config.layerCount, dense.config.hiddenSize == moe.config.hiddenSize else {
            throw TransformError.shapeMismatch(
                name: "MoE model (layers, hidden size)", expected: [dense.config.layerCount, dense.config.hiddenSize],
                actual: [moe.config.layerCount, moe.config.hiddenSize])
        }
        let probes = try dense.probe(tokens, activations: false)
        return try probes.enumerated().map { l, probe in
            let reference = try dense.ffnOutput(layer: l, inputs: probe.mlpInputs).values
            let candidate = try moe.ffnOutput(layer: l, inputs: probe.mlpInputs).values
            var difference = 0.0, norm = 0.0
            for i in reference.indices {
                let d = Double(candidate[i]) - Double(reference[i])
                difference += d * d
                norm += Double(reference[i]) * Double(reference[i])
            }
            return norm > 0 ? Float((difference / norm).squareRoot()) : (difference > 0 ? .infinity : 0)
        }
    }
}
