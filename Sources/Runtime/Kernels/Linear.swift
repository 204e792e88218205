import TensorCore

// Linear layers (PyTorch `nn.Linear`: y = x·Wᵀ + b), forward and backward side by side over flat buffers, every
// product through BLAS (llm.c `matmul_forward` / `matmul_backward`). Backward conventions: `d…` names a gradient of
// the loss; input and parameter gradients are *added* to their buffers unless a parameter says otherwise.

/// out[N, outFeatures] (+)= x[N, inFeatures] · Wᵀ (+ bias), W [outFeatures, inFeatures] (PyTorch `Linear`).
///
/// One BLAS call, or one per row chunk when `Parallel.width > 1` and there are enough rows to share.
package func linearForward(
    out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    rows: Int, inFeatures: Int, outFeatures: Int, accumulate: Bool = false
) {
    guard rows > 0 else { return }
    let beta: Float = accumulate ? 1 : 0
    if rows <= 2 {
        // Decode-sized: matrix-vector products read W once, with no sgemm packing copy.
        for n in 0..<rows {
            Matmul.gemv(m: outFeatures, n: inFeatures, a: weight, x: x + n * inFeatures, y: out + n * outFeatures, beta: beta)
        }
    } else if Parallel.width > 1 && rows >= 64 {
        let o = SendablePointer(out), xi = SendableConstPointer(x), w = SendableConstPointer(weight)
        Parallel.forEachChunk(rows, minChunk: 32) { range in
            Matmul.gemm(
                m: range.count, n: outFeatures, k: inFeatures, a: xi.pointer + range.lowerBound * inFeatures,
                b: w.pointer, transposeB: true, c: o.pointer + range.lowerBound * outFeatures, beta: beta)
        }
    } else {
        Matmul.gemm(m: rows, n: outFeatures, k: inFeatures, a: x, b: weight, transposeB: true, c: out, beta: beta)
    }
    if let bias {
        for n in 0..<rows {
            let row = out + n &* outFeatures
            for j in 0..<outFeatures { row[j] += bias[j] }
        }
    }
}

/// x[n, 0..<width] += bias for rows `stride` apart.
package func addBias(_ x: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, rows: Int, width: Int, stride: Int) {
    for n in 0..<rows {
        let row = x + n &* stride
        for j in 0..<width { row[j] += bias[j] }
    }
}

/// Backward of `linearForward` (y = x · Wᵀ, W [out, in]) through BLAS:
/// dX (+)= dY · W and dW += dYᵀ · X. With `Parallel.width > 1` and enough rows, dX is split by rows and dW by output
/// features (disjoint writes, each chunk one single-threaded sgemm).
/// - Parameters: dX [N, in] (nil to skip; overwritten unless `accumulateInput`); dWeight [out, in] (nil to skip);
///   dOut [N, out]; x [N, in]; weight [out, in].
package func linearBackward(
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
package func biasBackward(dBias: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, rows: Int, width: Int, stride: Int) {
    for n in 0..<rows {
        let row = dOut + n &* stride
        for j in 0..<width { dBias[j] += row[j] }
    }
}
