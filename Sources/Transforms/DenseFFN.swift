import TensorCore

/// One layer's dense SwiGLU feed-forward block, `down(silu(gate·x) ⊙ up·x)`.
///
/// Dimension letters used throughout the module: T tokens, H hidden size, I intermediate size (d_ff),
/// E (or N) routed experts, K experts per token, G granularity, R dense copies (`N / G`).
/// Weights use the Hugging Face layout (rows = output features).
public struct DenseFFN: Sendable, Equatable {
    /// `gate_proj.weight`, `[I, H]`.
    public var gate: FloatTensor
    /// `up_proj.weight`, `[I, H]`.
    public var up: FloatTensor
    /// `down_proj.weight`, `[H, I]`.
    public var down: FloatTensor

    /// Wraps the three projections after checking that their shapes agree.
    /// - Throws: `TransformError.shapeMismatch` when a matrix is not 2-D or the shapes disagree.
    public init(gate: FloatTensor, up: FloatTensor, down: FloatTensor) throws(TransformError) {
        guard gate.shape.count == 2 else {
            throw .shapeMismatch(name: "gate_proj", expected: [-1, -1], actual: gate.shape)
        }
        let (i, h) = (gate.shape[0], gate.shape[1])
        guard up.shape == [i, h] else { throw .shapeMismatch(name: "up_proj", expected: [i, h], actual: up.shape) }
        guard down.shape == [h, i] else {
            throw .shapeMismatch(name: "down_proj", expected: [h, i], actual: down.shape)
        }
        self.gate = gate
        self.up = up
        self.down = down
    }

    /// Hidden size H.
    public var hiddenSize: Int { gate.shape[1] }
    /// Intermediate size I (d_ff, the number of neurons).
    public var intermediateSize: Int { gate.shape[0] }

    /// The block as a single expert of width I.
    public var asExpert: Expert { Expert(unchecked: gate, up: up, down: down) }

    /// Forward pass for `x` `[T, H]` → `[T, H]`, by the runtime's SwiGLU kernel.
    public func forward(_ x: FloatTensor) -> FloatTensor { asExpert.forward(x) }
}
