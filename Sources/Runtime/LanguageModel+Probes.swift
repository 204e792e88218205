import Foundation
import TensorCore

/// What `LanguageModel.probe` records of one layer.
public struct LayerProbe: Sendable {
    /// The FFN block's input: `post_attention_layernorm` output `[T, D]`.
    public var mlpInputs: FloatTensor
    /// The down_proj input a = silu(gate·x) ⊙ (up·x) `[T, F]` of a dense layer, when requested; nil for MoE layers.
    public var activations: FloatTensor?
}

extension LanguageModel {
    /// Runs `tokens` (a fresh sequence) and returns every layer's FFN input and, with `activations`, the dense
    /// FFN's intermediate activations (calibration statistics, per-layer verification).
    /// - Throws: `RuntimeError` for an empty sequence, an out-of-vocabulary token, or more tokens than the context.
    public func probe(_ tokens: [Int32], activations: Bool) throws -> [LayerProbe] {
        guard tokens.count <= config.maxPositionEmbeddings else {
            throw RuntimeError.contextOverflow(needed: tokens.count, capacity: config.maxPositionEmbeddings)
        }
        let T = tokens.count, D = config.hiddenSize
        let ws = makeWorkspace(rows: T, context: T, keepActivations: true)
        try forward([(tokens, makeCache(capacity: T))], logits: .none, workspace: ws) { _ in }
        return parameters.layout.layers.indices.map { l in
            let inputs = FloatTensor(shape: [T, D], values: Array(UnsafeBufferPointer(start: ws.norm2(l), count: T * D)))
            var act: FloatTensor?
            if activations, case .dense(let f) = parameters.layout.layers[l].ffn {
                act = FloatTensor(shape: [T, f.width], values: Array(UnsafeBufferPointer(start: ws.act(l), count: T * f.width)))
            }
            return LayerProbe(mlpInputs: inputs, activations: act)
        }
    }

    /// The output of layer `layer`'s FFN block (dense MLP or MoE with its router) on `inputs` `[T, D]`, without the
    /// residual: the quantity compared layer by layer between a dense model and its MoE.
    /// - Throws: `RuntimeError.shapeMismatch` when `inputs` is not `[T, hiddenSize]`.
    public func ffnOutput(layer l: Int, inputs: FloatTensor) throws -> FloatTensor {
        let D = config.hiddenSize
        guard inputs.shape.count == 2, inputs.shape[1] == D, (0..<config.layerCount).contains(l) else {
            throw RuntimeError.shapeMismatch(tensor: "FFN input of layer \(l)", expected: [-1, D], found: inputs.shape)
        }
        let T = inputs.shape[0]
        let ws = makeWorkspace(rows: T, context: 1)
        var out = [Float](repeating: 0, count: T * D)
        parameters.values.withUnsafeBufferPointer { wBuffer in
            let w = wBuffer.baseAddress!
            inputs.values.withUnsafeBufferPointer { xBuffer in
                out.withUnsafeMutableBufferPointer { o in
                    let x = xBuffer.baseAddress!
                    decoder.ffnForward(layer: l, out: o.baseAddress!, x: x, rows: T, w: w, ws: ws)
                }
            }
        }
        return FloatTensor(shape: [T, D], values: out)
    }
}
