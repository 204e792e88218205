import Conversion
import Foundation
import TensorCore

/// One MoE layer run on its own, outside a decoder, with the decoder's kernels (`routerForward`, `expertsForward`):
/// what the transforms use to calibrate and align a block they build, so that they measure the layer exactly as
/// `moekit logits`, `eval` and `train` run it.
///
/// The weights live in one flat buffer laid out like a `ParameterLayout`'s MoE layer: router [E, D], then per expert
/// gate [Fe, D] and up [Fe, D] (adjacent, as `feedForward` reads them) and down [D, Fe], then the shared expert and
/// its gate.
package struct MoELayerRun {
    /// One SwiGLU block's weights: gate and up [F, D], down [D, F], row-major.
    package struct Block {
        package var gate: [Float]
        package var up: [Float]
        package var down: [Float]
        package var width: Int

        package init(gate: [Float], up: [Float], down: [Float], width: Int) {
            self.gate = gate
            self.up = up
            self.down = down
            self.width = width
        }
    }

    let weights: [Float]
    let parameters: MoEParameters
    let hidden: Int
    let widest: Int

    /// Lays out the layer. `router` is [E, D]; `shared` is at most one always-on expert, `sharedGate` [D] its
    /// sigmoid gate.
    package init(router: [Float], experts: [Block], shared: Block?, sharedGate: [Float]?, hidden D: Int) {
        let E = experts.count
        precondition(router.count == E * D, "router must be [E, D]")
        var weights = router
        func slice(_ count: Int, _ shape: [Int], _ values: [Float]) -> ParameterSlice {
            precondition(values.count == count, "tensor of shape \(shape) has \(values.count) values")
            let s = ParameterSlice(offset: weights.count, shape: shape)
            weights += values
            return s
        }
        func block(_ b: Block) -> FeedForwardParameters {
            let gate = slice(b.width * D, [b.width, D], b.gate)
            let up = slice(b.width * D, [b.width, D], b.up)
            let down = slice(D * b.width, [D, b.width], b.down)
            return FeedForwardParameters(width: b.width, gate: gate, up: up, down: down)
        }
        let routerSlice = ParameterSlice(offset: 0, shape: [E, D])
        let expertParameters = experts.map(block)
        let sharedParameters = shared.map(block)
        let gateSlice = sharedGate.map { slice(D, [1, D], $0) }
        parameters = MoEParameters(
            router: routerSlice, router2: nil, experts: expertParameters, shared: sharedParameters, sharedGate: gateSlice)
        self.weights = weights
        hidden = D
        widest = experts.map(\.width).max() ?? 0
    }

    /// out [N, D] = the layer applied to x [N, D]: route with `routing` (`scale` as the decoder passes it), multiply
    /// each selected expert's weight by `expertScales[e]` when given, then the experts and the shared expert.
    package func forward(
        _ x: UnsafePointer<Float>, rows N: Int, perToken K: Int, routing: ExpertRouting, scale: Float = 1,
        expertScales: [Float]? = nil, out: UnsafeMutablePointer<Float>
    ) {
        let D = hidden, E = parameters.experts.count, Fe = widest, Fs = parameters.shared?.width ?? 0
        // One arena for the layer's activation slot (the decoder's `ActivationTable` holds the same arrays).
        let floats = [N * E, N * E, N * E, 1, N * K, N * K, N * K * D, N * K * 2 * Fe, N * K * Fe, N * K * D, N * 2 * Fs, N * Fs, N * D, N]
        let ints = [N * K, N * K, E + 1, E]
        var f = [UnsafeMutablePointer<Float>]()
        var i = [UnsafeMutablePointer<Int32>]()
        for count in floats { f.append(.allocate(capacity: max(1, count))) }
        for count in ints { i.append(.allocate(capacity: max(1, count))) }
        defer {
            f.forEach { $0.deallocate() }
            i.forEach { $0.deallocate() }
        }
        let a = MoEActivations(
            routerLogits: f[0], routerHidden: f[1], probabilities: f[2], secondProbabilities: f[3], selected: i[0],
            weights: f[4], rows: i[1], rowWeights: f[5], offsets: i[2], cursor: i[3], expertWidth: Fe, inputs: f[6],
            gateUp: f[7], act: f[8], outputs: f[9], sharedGateUp: f[10], sharedAct: f[11], sharedOutput: f[12],
            sharedGateLogit: f[13])
        out.update(repeating: 0, count: N * D)
        weights.withUnsafeBufferPointer { w in
            routerForward(
                a, x: x, rows: N, width: D, experts: E, perToken: K, p: parameters, parameters: w.baseAddress!, routing: routing,
                scale: scale)
            if let expertScales {
                for slot in 0..<(N * K) { a.weights[slot] *= expertScales[Int(a.selected[slot])] }
            }
            expertsForward(a, out: out, x: x, rows: N, width: D, perToken: K, p: parameters, parameters: w.baseAddress!)
        }
    }

    /// out [N, D] = down · (silu(gate · x) ⊙ up · x): one SwiGLU block (a dense FFN or a single expert) run by the
    /// runtime's `feedForward`.
    package static func forward(
        _ block: Block, x: UnsafePointer<Float>, rows N: Int, hidden D: Int, out: UnsafeMutablePointer<Float>
    ) {
        let F = block.width
        guard N > 0 else { return }
        guard F > 0 else {
            out.update(repeating: 0, count: N * D)
            return
        }
        let weights = block.gate + block.up + block.down
        let p = FeedForwardParameters(
            width: F, gate: ParameterSlice(offset: 0, shape: [F, D]), up: ParameterSlice(offset: F * D, shape: [F, D]),
            down: ParameterSlice(offset: 2 * F * D, shape: [D, F]))
        let gateUp = UnsafeMutablePointer<Float>.allocate(capacity: N * 2 * F)
        let act = UnsafeMutablePointer<Float>.allocate(capacity: N * F)
        defer {
            gateUp.deallocate()
            act.deallocate()
        }
        weights.withUnsafeBufferPointer { w in
            feedForward(out: out, x: x, rows: N, width: D, p: p, weights: w.baseAddress!, gateUp: gateUp, act: act, accumulate: false)
        }
    }
}
