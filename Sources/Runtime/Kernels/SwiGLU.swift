import TensorCore

// SwiGLU feed-forward (Shazeer 2020, "GLU Variants Improve Transformer"; transformers `LlamaMLP`):
// down · (silu(gate·x) ⊙ up·x), the activation's forward and backward side by side, and the dense FFN forward.

/// SwiGLU activation: act = silu(gate) ⊙ up, from the fused [gate | up] projection (kept for backward).
/// - Parameters: act [N, F]; gateUp [N, 2F] (gate columns then up columns).
package func swigluForward(act: UnsafeMutablePointer<Float>, gateUp: UnsafePointer<Float>, rows: Int, width F: Int) {
    for n in 0..<rows {
        let g = gateUp + n &* (2 &* F)
        let u = g + F
        let a = act + n &* F
        for i in 0..<F { a[i] = silu(g[i]) * u[i] }
    }
}

/// SwiGLU backward for act = silu(g) ⊙ u: du = dAct · silu(g), dg = dAct · u · σ(g)·(1 + g·(1 − σ(g))).
/// - Parameters: dGateUp [N, 2F] (overwritten, gate columns then up columns); dAct [N, F]; gateUp [N, 2F] (saved
///   pre-activations).
package func swigluBackward(
    dGateUp: UnsafeMutablePointer<Float>, dAct: UnsafePointer<Float>, gateUp: UnsafePointer<Float>, rows: Int, width F: Int
) {
    for n in 0..<rows {
        let g = gateUp + n &* (2 &* F)
        let u = g + F
        let dg = dGateUp + n &* (2 &* F)
        let du = dg + F
        let da = dAct + n &* F
        for i in 0..<F {
            let s = sigmoid(g[i])
            let gi = g[i]
            du[i] = da[i] * gi * s
            dg[i] = da[i] * u[i] * s * (1 + gi * (1 - s))
        }
    }
}

/// Dense SwiGLU FFN: out (+)= down · (silu(gate · x) ⊙ up · x). Gate and up rows are adjacent in the parameter
/// buffer, so both projections are one GEMM of width 2F.
/// - Parameters: out [N, D]; x [N, D]; gateUp scratch [N, 2F]; act scratch [N, F]; weights from `p`.
package func feedForward(
    out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows: Int, width D: Int, p: FeedForwardParameters,
    weights w: UnsafePointer<Float>, gateUp: UnsafeMutablePointer<Float>, act: UnsafeMutablePointer<Float>,
    accumulate: Bool
) {
    let F = p.width
    precondition(p.up.offset == p.gate.offset + p.gate.count, "gate and up projections must be adjacent")
    linearForward(out: gateUp, x: x, weight: w + p.gate.offset, bias: nil, rows: rows, inFeatures: D, outFeatures: 2 * F)
    swigluForward(act: act, gateUp: gateUp, rows: rows, width: F)
    linearForward(
        out: out, x: act, weight: w + p.down.offset, bias: nil, rows: rows, inFeatures: F, outFeatures: D,
        accumulate: accumulate)
}
