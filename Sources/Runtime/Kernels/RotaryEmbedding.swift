import TensorCore

// Rotary position embedding (Su et al. 2021, "RoFormer"; transformers `apply_rotary_pos_emb`, rotate-half
// convention), forward and backward side by side.

/// Rotary position embedding, rotate-half convention (HF): within each head of width hd, element i < hd/2 pairs
/// with i + hd/2: (a, b) → (a·cos − b·sin, b·cos + a·sin), angle = position · invFreq[i].
/// With `inverse` the rotation is by −angle (`ropeBackward`: the rotation is orthogonal).
/// - Parameters: x [N, heads·hd] in place, rows `stride` apart; positions [N]; cos, sin [maxPosition, hd/2].
package func ropeForward(
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

/// RoPE backward, in place: the forward rotation is orthogonal, so the gradient is rotated by the opposite angle:
/// (da, db) → (da·cos + db·sin, db·cos − da·sin). Same layout as `ropeForward`.
package func ropeBackward(
    dX: UnsafeMutablePointer<Float>, rows: Int, heads: Int, headDim: Int, positions: UnsafePointer<Int32>,
    cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, stride: Int
) {
    ropeForward(
        x: dX, rows: rows, heads: heads, headDim: headDim, positions: positions, cos: cos, sin: sin, stride: stride,
        inverse: true)
}
