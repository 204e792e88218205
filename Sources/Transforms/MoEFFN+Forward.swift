import Runtime
import TensorCore

extension MoEFFN {
    /// The block's forward, `x` `[T, H]` → `[T, H]`, run by the runtime's MoE kernels (`MoELayerRun`: the router,
    /// top-k routing, grouped experts and gated shared expert of `moekit logits`, `eval` and `train`), so that
    /// calibrated rescaling and alignment measure the block as the model will run it. Each routed expert's weight is
    /// multiplied by `outputScale(of:)`; several shared experts run as one of their concatenated widths (a sum of
    /// SwiGLU blocks is one SwiGLU block over the union of their neurons); the output bias is added last.
    public func forward(_ x: FloatTensor) -> FloatTensor {
        precondition(x.shape.count == 2 && x.shape[1] == hiddenSize, "MoEFFN.forward: x must be [T, \(hiddenSize)]")
        let t = x.shape[0]
        let h = hiddenSize
        let layer = MoELayerRun(
            router: router.values, experts: experts.map(\.runtimeBlock), shared: Expert.concatenated(sharedExperts)?.runtimeBlock,
            sharedGate: sharedGate?.values, hidden: h)
        let scales = (0..<expertCount).map(outputScale(of:))
        var out = [Float](repeating: 0, count: t &* h)
        x.values.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                layer.forward(
                    xb.baseAddress!, rows: t, perToken: topK, routing: routing,
                    expertScales: scales.allSatisfy { $0 == 1 } ? nil : scales, out: ob.baseAddress!)
            }
        }
        if let bias = outputBias {
            for token in 0..<t {
                for j in 0..<h { out[token &* h &+ j] += bias[j] }
            }
        }
        return FloatTensor(shape: [t, h], values: out)
    }
}

extension Expert {
    /// The expert as the runtime's SwiGLU block.
    var runtimeBlock: MoELayerRun.Block {
        MoELayerRun.Block(gate: gate.values, up: up.values, down: down.values, width: width)
    }

    /// One expert whose neurons are those of `experts` side by side: gate and up rows concatenated, down columns
    /// concatenated per row. Its output is the sum of theirs. Nil for none.
    static func concatenated(_ experts: [Expert]) -> Expert? {
        guard let first = experts.first else { return nil }
        guard experts.count > 1 else { return first }
        let h = first.hiddenSize
        let total = experts.reduce(0) { $0 + $1.width }
        var down = [Float]()
        down.reserveCapacity(h * total)
        for row in 0..<h {
            for expert in experts { down += expert.down.values[(row * expert.width)..<((row + 1) * expert.width)] }
        }
        return Expert(
            unchecked: FloatTensor(shape: [total, h], values: experts.flatMap(\.gate.values)),
            up: FloatTensor(shape: [total, h], values: experts.flatMap(\.up.values)),
            down: FloatTensor(shape: [h, total], values: down))
    }
}
