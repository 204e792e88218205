import TensorCore

// Forward kernels of the decoder, as free functions over flat buffers (llm.c style). Each `…Forward` keeps in its
// outputs what the matching `…Backward` will need (normalised inputs, reciprocal RMS, pre-activation gate/up).
// Shapes use the letters of `ModelConfig` (N rows, D width, …).

/// Embedding lookup: out[n] = table[tokens[n]].
/// - Parameters: out [N, D]; table [V, D].
func embeddingForward(
    out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Int32>, count: Int, table: UnsafePointer<Float>, width: Int
) {
    for n in 0..<count {
        (out + n &* width).update(from: table + Int(tokens[n]) &* width, count: width)
    }
}

/// out[N, outFeatures] (+)= x[N, inFeatures] · Wᵀ (+ bias), W [outFeatures, inFeatures] (PyTorch `Linear`).
///
/// One BLAS call, or one per row chunk when `Parallel.width > 1` and there are enough rows to share.
func linearForward(
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
func addBias(_ x: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, rows: Int, width: Int, stride: Int) {
    for n in 0..<rows {
        let row = x + n &* stride
        for j in 0..<width { row[j] += bias[j] }
    }
}

/// Rotary position embedding, rotate-half convention (HF): within each head of width hd, element i < hd/2 pairs
/// with i + hd/2: (a, b) → (a·cos − b·sin, b·cos + a·sin), angle = position · invFreq[i].
/// With `inverse` the rotation is by −angle (`ropeBackward`: the rotation is orthogonal).
/// - Parameters: x [N, heads·hd] in place, rows `stride` apart; positions [N]; cos, sin [maxPosition, hd/2].
func ropeForward(
    x: UnsafeMutablePointer<Float>, rows: Int, heads: Int, headDim: Int, positions: UnsafePointer<Int32>,
    cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, stride: Int, inverse: Bool = false
) {
    let sign: Float = inverse ? -1 : 1
    let half = headDim / 2
    let width = stride
    for n in 0..<rows {
        let c = cos + Int(positions[n]) &* half
        let s = sin + Int(positions[n]) &* half
        for h in 0..<heads {
            let a = x + (n &* width &+ h &* headDim)
            let b = a + half
            for i in 0..<half {
                let x1 = a[i], x2 = b[i]
                let si = sign * s[i]
                a[i] = x1 * c[i] - x2 * si
                b[i] = x2 * c[i] + x1 * si
            }
        }
    }
}

/// Causal grouped-query attention of one sequence whose keys and values (including the new rows) are in its
/// cache: query row i (position `start + i`) attends to cache positions 0 … start + i.
///
/// Per head and block of query rows: S = Q·Kᵀ/√hd (BLAS), masked softmax, O = P·V (BLAS), written into the head's
/// columns of `out`. The attention probabilities are not kept (backward recomputes them per block).
/// - Parameters: out [T, H·hd]; q [T, H·hd] with rows `qStride` apart; keys, values [capacity, Hkv·hd] (one layer of the cache);
///   scores scratch [H, blockRows, start + T].
func attentionForward(
    out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, qStride: Int, keys: UnsafePointer<Float>,
    values: UnsafePointer<Float>, rows: Int, start: Int, heads: Int, kvHeads: Int, headDim: Int, blockRows: Int, scores: UnsafeMutablePointer<Float>
) {
    let qWidth = heads * headDim, kvWidth = kvHeads * headDim, group = heads / kvHeads
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
                    b: kp.pointer + g * headDim, ldb: kvWidth, transposeB: true, c: s, ldc: keyCount, alpha: scale)
                for i in i0..<i1 {
                    let row = s + (i - i0) &* keyCount
                    let valid = start + i + 1
                    softmaxInPlace(row, count: valid)
                    for j in valid..<keyCount { row[j] = 0 }
                }
                Matmul.gemm(
                    m: i1 - i0, n: headDim, k: keyCount, a: s, lda: keyCount, b: vp.pointer + g * headDim, ldb: kvWidth,
                    c: o.pointer + i0 * qWidth + h * headDim, ldc: qWidth)
                i0 = i1
            }
        }
    }
}

/// SwiGLU activation: act = silu(gate) ⊙ up, from the fused [gate | up] projection (kept for backward).
/// - Parameters: act [N, F]; gateUp [N, 2F] (gate columns then up columns).
func swigluForward(act: UnsafeMutablePointer<Float>, gateUp: UnsafePointer<Float>, rows: Int, width F: Int) {
    for n in 0..<rows {
        let g = gateUp + n &* (2 &* F)
        let u = g + F
        let a = act + n &* F
        for i in 0..<F { a[i] = silu(g[i]) * u[i] }
    }
}

/// Dense SwiGLU FFN: out (+)= down · (silu(gate · x) ⊙ up · x). Gate and up rows are adjacent in the parameter
/// buffer, so both projections are one GEMM of width 2F.
/// - Parameters: out [N, D]; x [N, D]; gateUp scratch [N, 2F]; act scratch [N, F]; weights from `p`.
func feedForward(
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
