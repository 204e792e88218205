import TensorCore

// Backward kernels mirroring the forward kernels of Layers.swift (llm.c's `…_backward` functions), over flat buffers.
// Conventions: `d…` names a gradient of the loss; input gradients and parameter gradients are *added* to their
// buffers (a parameter or a residual stream may feed several consumers), except where `accumulate` says otherwise.

/// Embedding lookup backward: dTable[tokens[n]] += dOut[n].
/// - Parameters: dTable [V, D]; dOut [N, D].
func embeddingBackward(
    dTable: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, tokens: UnsafePointer<Int32>, count: Int, width: Int
) {
    for n in 0..<count {
        let dst = dTable + Int(tokens[n]) &* width
        let src = dOut + n &* width
        for i in 0..<width { dst[i] += src[i] }
    }
}

/// Backward of `linearForward` (y = x · Wᵀ, W [out, in]) through BLAS:
/// dX (+)= dY · W and dW += dYᵀ · X. With `Parallel.width > 1` and enough rows, dX is split by rows and dW by output
/// features (disjoint writes, each chunk one single-threaded sgemm).
/// - Parameters: dX [N, in] (nil to skip; overwritten unless `accumulateInput`); dWeight [out, in] (nil to skip);
///   dOut [N, out]; x [N, in]; weight [out, in].
func linearBackward(
    dX: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?, dOut: UnsafePointer<Float>,
    x: UnsafePointer<Float>, weight: UnsafePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int,
    accumulateInput: Bool = false
) {
    guard rows > 0 else { return }
    let parallel = Parallel.width > 1 && rows >= 64
    let dy = SendableConstPointer(dOut), xi = SendableConstPointer(x), w = SendableConstPointer(weight)
    if let dX {
        let beta: Float = accumulateInput ? 1 : 0
        let dx = SendablePointer(dX)
        Parallel.forEachChunk(rows, minChunk: parallel ? 32 : rows) { range in
            Matmul.gemm(
                m: range.count, n: inFeatures, k: outFeatures, a: dy.pointer + range.lowerBound * outFeatures,
                b: w.pointer, c: dx.pointer + range.lowerBound * inFeatures, beta: beta)
        }
    }
    if let dWeight {
        let dw = SendablePointer(dWeight)
        Parallel.forEachChunk(outFeatures, minChunk: parallel ? 64 : outFeatures) { range in
            Matmul.gemm(
                m: range.count, n: inFeatures, k: rows, a: dy.pointer + range.lowerBound, lda: outFeatures,
                transposeA: true, b: xi.pointer, ldb: inFeatures, c: dw.pointer + range.lowerBound * inFeatures,
                ldc: inFeatures, beta: 1)
        }
    }
}

/// Bias backward: dBias += Σ_rows dOut[n, 0..<width], rows `stride` apart.
func biasBackward(dBias: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, rows: Int, width: Int, stride: Int) {
    for n in 0..<rows {
        let row = dOut + n &* stride
        for j in 0..<width { dBias[j] += row[j] }
    }
}

/// RoPE backward, in place: the forward rotation is orthogonal, so the gradient is rotated by the opposite angle:
/// (da, db) → (da·cos + db·sin, db·cos − da·sin). Same layout as `ropeForward`.
func ropeBackward(
    dX: UnsafeMutablePointer<Float>, rows: Int, heads: Int, headDim: Int, positions: UnsafePointer<Int32>,
    cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, stride: Int
) {
    ropeForward(
        x: dX, rows: rows, heads: heads, headDim: headDim, positions: positions, cos: cos, sin: sin, stride: stride,
        inverse: true)
}

/// SwiGLU backward for act = silu(g) ⊙ u: du = dAct · silu(g), dg = dAct · u · σ(g)·(1 + g·(1 − σ(g))).
/// - Parameters: dGateUp [N, 2F] (overwritten, gate columns then up columns); dAct [N, F]; gateUp [N, 2F] (saved
///   pre-activations).
func swigluBackward(
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
