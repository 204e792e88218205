import TensorCore

// Causal grouped-query attention (transformers `LlamaAttention`, `eager_attention_forward`), forward and backward
// side by side, in blocks of query rows with BLAS for Q·Kᵀ and P·V.

/// Causal grouped-query attention of one sequence whose keys and values (including the new rows) are in `keys` and
/// `values`: query row i (position `start + i`) attends to positions 0 … start + i.
///
/// Per head and block of query rows: S = Q·Kᵀ/√hd (BLAS), masked softmax, O = P·V (BLAS), written into the head's
/// columns of `out`. The attention probabilities are not kept (backward recomputes them per block).
/// - Parameters: out [T, H·hd]; q [T, H·hd] with rows `qStride` apart; keys, values [start + T, Hkv·hd] with rows
///   `kvStride` apart (one layer of a KV cache, or the k and v columns of the fused projection of a training pass);
///   scores scratch [H, blockRows, start + T].
package func attentionForward(
    out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, qStride: Int, keys: UnsafePointer<Float>,
    values: UnsafePointer<Float>, kvStride: Int, rows: Int, start: Int, heads: Int, kvHeads: Int, headDim: Int, blockRows: Int, scores: UnsafeMutablePointer<Float>
) {
    let qWidth = heads * headDim, group = heads / kvHeads
    let scale = 1 / Float(headDim).squareRoot()
    let context = start + rows
    let o = SendablePointer(out), qp = SendableConstPointer(q), kp = SendableConstPointer(keys)
    let vp = SendableConstPointer(values), sp = SendablePointer(scores)
    Parallel.forEachChunk(heads, minChunk: rows * context >= 16384 ? 1 : heads) { headRange in
        for h in headRange {
            let g = h / group
            let s = sp.pointer + h * blockRows * context
            var i0 = 0
            while i0 < rows {
                let i1 = min(rows, i0 + blockRows)
                let keyCount = start + i1
                Matmul.gemm(
                    m: i1 - i0, n: keyCount, k: headDim, a: qp.pointer + i0 * qStride + h * headDim, lda: qStride,
                    b: kp.pointer + g * headDim, ldb: kvStride, transposeB: true, c: s, ldc: keyCount, alpha: scale)
                for i in i0..<i1 {
                    let row = s + (i - i0) &* keyCount
                    let valid = start + i + 1
                    softmaxInPlace(row, count: valid)
                    for j in valid..<keyCount { row[j] = 0 }
                }
                Matmul.gemm(
                    m: i1 - i0, n: headDim, k: keyCount, a: s, lda: keyCount, b: vp.pointer + g * headDim, ldb: kvStride,
                    c: o.pointer + i0 * qWidth + h * headDim, ldc: qWidth)
                i0 = i1
            }
        }
    }
}

/// Backward of `attentionForward` for one sequence that starts at position 0 (a training sequence), in blocks of
/// query rows like the forward.
///
/// The probabilities are recomputed per block (S = Q·Kᵀ/√hd, causal softmax: the same BLAS calls and the same
/// softmax as the forward, hence the same values) instead of being saved: keeping P would cost L·H·T² floats
/// (283 MB for SmolLM2 at T = 512) against one Q·Kᵀ product per block, a small share of the backward FLOPs. Then
/// dP = dO·Vᵀ, dV += Pᵀ·dO, dS = P ⊙ (dP − rowsum(P ⊙ dP)), dQ = dS·K/√hd, dK += dSᵀ·Q/√hd.
///
/// Work is split across key/value groups (GQA): the heads of one group write the same dK/dV columns, so each worker
/// owns whole groups and every write is disjoint.
/// - Parameters:
///   - dQKV: [T, qkvStride] gradient of the fused projection (after RoPE): q columns are overwritten, k and v columns
///     accumulated (zero them first).
///   - dOut: [T, H·hd] gradient of the attention output.
///   - qkv: [T, qkvStride] saved q | k | v (after RoPE).
///   - scratch: [Hkv, 2, blockRows, T] floats.
package func attentionBackward(
    dQKV: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, qkv: UnsafePointer<Float>, qkvStride: Int, rows T: Int,
    heads: Int, kvHeads: Int, headDim hd: Int, blockRows: Int, scratch: UnsafeMutablePointer<Float>
) {
    let qWidth = heads * hd, kvWidth = kvHeads * hd, group = heads / kvHeads
    let scale = 1 / Float(hd).squareRoot()
    let dq = SendablePointer(dQKV), dk = SendablePointer(dQKV + qWidth), dv = SendablePointer(dQKV + qWidth + kvWidth)
    let q = SendableConstPointer(qkv), k = SendableConstPointer(qkv + qWidth), v = SendableConstPointer(qkv + qWidth + kvWidth)
    let dO = SendableConstPointer(dOut), sp = SendablePointer(scratch)
    let ld = qkvStride
    Parallel.forEachChunk(kvHeads, minChunk: T * T * group >= 16384 ? 1 : kvHeads) { groups in
        for g in groups {
            let p = sp.pointer + g * 2 * blockRows * T
            let ds = p + blockRows * T
            let kg = k.pointer + g * hd, vg = v.pointer + g * hd
            let dkg = dk.pointer + g * hd, dvg = dv.pointer + g * hd
            for h in (g * group)..<((g + 1) * group) {
                var i0 = 0
                while i0 < T {
                    let i1 = min(T, i0 + blockRows)
                    let bs = i1 - i0, keyCount = i1
                    let qBlock = q.pointer + i0 * ld + h * hd
                    let dOBlock = dO.pointer + i0 * qWidth + h * hd
                    // P: recomputed scores, causal softmax.
                    Matmul.gemm(
                        m: bs, n: keyCount, k: hd, a: qBlock, lda: ld, b: kg, ldb: ld, transposeB: true, c: p,
                        ldc: keyCount, alpha: scale)
                    for i in i0..<i1 {
                        let row = p + (i - i0) &* keyCount
                        let valid = i + 1
                        softmaxInPlace(row, count: valid)
                        for j in valid..<keyCount { row[j] = 0 }
                    }
                    // dP = dO · Vᵀ, then dV += Pᵀ · dO.
                    Matmul.gemm(
                        m: bs, n: keyCount, k: hd, a: dOBlock, lda: qWidth, b: vg, ldb: ld, transposeB: true, c: ds,
                        ldc: keyCount)
                    Matmul.gemm(
                        m: keyCount, n: hd, k: bs, a: p, lda: keyCount, transposeA: true, b: dOBlock, ldb: qWidth,
                        c: dvg, ldc: ld, beta: 1)
                    // dS = P ⊙ (dP − Σ_j P·dP), zero outside the causal mask because P is.
                    for r in 0..<bs {
                        let pr = p + r &* keyCount, dr = ds + r &* keyCount
                        var dot: Float = 0
                        for j in 0..<keyCount { dot += pr[j] * dr[j] }
                        for j in 0..<keyCount { dr[j] = pr[j] * (dr[j] - dot) }
                    }
                    // dQ = dS · K / √hd, dK += dSᵀ · Q / √hd.
                    Matmul.gemm(
                        m: bs, n: hd, k: keyCount, a: ds, lda: keyCount, b: kg, ldb: ld, c: dq.pointer + i0 * ld + h * hd,
                        ldc: ld, alpha: scale)
                    Matmul.gemm(
                        m: keyCount, n: hd, k: bs, a: ds, lda: keyCount, transposeA: true, b: qBlock, ldb: ld, c: dkg,
                        ldc: ld, alpha: scale, beta: 1)
                    i0 = i1
                }
            }
        }
    }
}
