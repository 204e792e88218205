// RMSNorm (Zhang & Sennrich 2019, "Root Mean Square Layer Normalization"; transformers `LlamaRMSNorm`): forward
// and backward side by side, over flat buffers.

/// RMSNorm: out = x / sqrt(mean(x²) + eps) ⊙ weight, per row. Stores 1/rms per row in `reciprocalRMS` (backward).
/// - Parameters: out [N, D]; reciprocalRMS [N] (entries `rrmsStride` apart); x [N, D]; weight [D]; `stride` between
///   rows (default D).
package func rmsnormForward(
    out: UnsafeMutablePointer<Float>, reciprocalRMS: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
    weight: UnsafePointer<Float>, rows: Int, width: Int, eps: Float, stride: Int? = nil, rrmsStride: Int = 1
) {
    let stride = stride ?? width
    for n in 0..<rows {
        let row = x + n &* stride
        let dst = out + n &* stride
        let sum = sumOfSquares(row, count: width)
        let r = 1 / (sum / Float(width) + eps).squareRoot()
        reciprocalRMS[n &* rrmsStride] = r
        for i in 0..<width { dst[i] = row[i] * r * weight[i] }
    }
}

/// RMSNorm backward for y = x · r ⊙ w, r = 1/sqrt(mean(x²) + eps) (r as saved by `rmsnormForward`):
/// dx = r·(dy⊙w) − x · r³/D · Σ_j dy_j w_j x_j, added to `dX`; dw += Σ_rows dy ⊙ x · r.
/// - Parameters: dX [N, D] (accumulated); dWeight [D] (accumulated, nil to skip); dOut, x [N, D]; reciprocalRMS [N].
package func rmsnormBackward(
    dX: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>?, dOut: UnsafePointer<Float>,
    x: UnsafePointer<Float>, reciprocalRMS: UnsafePointer<Float>, weight: UnsafePointer<Float>, rows: Int, width: Int
) {
    let inverseWidth = 1 / Float(width)
    for n in 0..<rows {
        let dy = dOut + n &* width
        let row = x + n &* width
        let dx = dX + n &* width
        let r = reciprocalRMS[n]
        var dot: Float = 0
        for i in 0..<width { dot += dy[i] * weight[i] * row[i] }
        let coefficient = dot * r * r * r * inverseWidth
        for i in 0..<width { dx[i] += r * dy[i] * weight[i] - coefficient * row[i] }
        if let dWeight {
            for i in 0..<width { dWeight[i] += dy[i] * row[i] * r }
        }
    }
}

/// Grouped RMSNorm over the q or k columns of a fused projection, in place: each of the `groups` blocks of
/// `groupWidth` values of a row is normalised on its own, all with one weight of `groupWidth`. One group of the
/// whole projection is OLMoE's q/k norm (`OlmoeAttention`: q_norm over H·hd); one group per head with a shared
/// [hd] weight is Qwen3's (`Qwen3Attention`: q_norm over head_dim). The input is kept in `saved` for the backward.
/// - Parameters: x [N, stride] (groups·groupWidth columns normalised in place); saved [N, groups·groupWidth];
///   reciprocalRMS [N, groups]; weight [groupWidth].
package func groupedRMSNormForward(
    x: UnsafeMutablePointer<Float>, saved: UnsafeMutablePointer<Float>, reciprocalRMS: UnsafeMutablePointer<Float>,
    weight: UnsafePointer<Float>, rows: Int, groups: Int, groupWidth: Int, stride: Int, eps: Float
) {
    let width = groups &* groupWidth
    for n in 0..<rows {
        (saved + n &* width).update(from: x + n &* stride, count: width)
    }
    for g in 0..<groups {
        rmsnormForward(
            out: x + g &* groupWidth, reciprocalRMS: reciprocalRMS + g, x: x + g &* groupWidth, weight: weight, rows: rows,
            width: groupWidth, eps: eps, stride: stride, rrmsStride: groups)
    }
}

/// Backward of `groupedRMSNormForward`: replaces the gradient of the normalised columns in `dX` (rows of `stride`)
/// by the gradient of their input; dWeight += the weight gradient summed over rows and groups.
/// - Parameters: dX [N, stride]; scratch [groupWidth] per row block (N·groups·groupWidth floats); saved, reciprocalRMS
///   as left by the forward.
package func groupedRMSNormBackward(
    dX: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>?, saved: UnsafePointer<Float>,
    reciprocalRMS: UnsafePointer<Float>, weight: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>,
    rows: Int, groups: Int, groupWidth: Int, stride: Int
) {
    let width = groups &* groupWidth
    // dOut of every group, contiguous: [N·groups, groupWidth]; then the plain backward writes dX in its place.
    for n in 0..<rows {
        (scratch + n &* width).update(from: dX + n &* stride, count: width)
        (dX + n &* stride).update(repeating: 0, count: width)
    }
    for n in 0..<rows {
        for g in 0..<groups {
            let offset = n &* width &+ g &* groupWidth
            rmsnormBackward(
                dX: dX + (n &* stride &+ g &* groupWidth), dWeight: dWeight, dOut: scratch + offset, x: saved + offset,
                reciprocalRMS: reciprocalRMS + (n &* groups &+ g), weight: weight, rows: 1, width: groupWidth)
        }
    }
}
