import Runtime
import TensorCore

/// One SwiGLU expert with its own width `I_e`: `gate`/`up` are `[I_e, H]`, `down` is `[H, I_e]`.
public struct Expert: Sendable, Equatable {
    /// `[I_e, H]`.
    public var gate: FloatTensor
    /// `[I_e, H]`.
    public var up: FloatTensor
    /// `[H, I_e]`.
    public var down: FloatTensor

    /// Wraps the three projections after checking their shapes.
    /// - Throws: `TransformError.shapeMismatch` when the shapes disagree.
    public init(gate: FloatTensor, up: FloatTensor, down: FloatTensor) throws(TransformError) {
        let dense = try DenseFFN(gate: gate, up: up, down: down)
        self.init(unchecked: dense.gate, up: dense.up, down: dense.down)
    }

    init(unchecked gate: FloatTensor, up: FloatTensor, down: FloatTensor) {
        self.gate = gate
        self.up = up
        self.down = down
    }

    /// The expert's width `I_e`.
    public var width: Int { gate.shape[0] }
    /// Hidden size H.
    public var hiddenSize: Int { gate.shape[1] }

    /// Forward pass for `x` `[T, H]` → `[T, H]`, run by the runtime's SwiGLU kernel (`MoELayerRun.forward`).
    public func forward(_ x: FloatTensor) -> FloatTensor {
        let t = x.shape[0]
        var out = [Float](repeating: 0, count: t * hiddenSize)
        out.withUnsafeMutableBufferPointer { o in
            x.values.withUnsafeBufferPointer { xb in
                MoELayerRun.forward(runtimeBlock, x: xb.baseAddress!, rows: t, hidden: hiddenSize, out: o.baseAddress!)
            }
        }
        return FloatTensor(shape: [t, hiddenSize], values: out)
    }
}
