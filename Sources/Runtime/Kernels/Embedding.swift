import TensorCore

// Token embedding lookup, forward and backward side by side (llm.c `encoder_forward` / `encoder_backward`).

/// Embedding lookup: out[n] = table[tokens[n]].
/// - Parameters: out [N, D]; table [V, D].
package func embeddingForward(
    out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Int32>, count: Int, table: UnsafePointer<Float>, width: Int
) {
    for n in 0..<count {
        (out + n &* width).update(from: table + Int(tokens[n]) &* width, count: width)
    }
}

/// Embedding lookup backward: dTable[tokens[n]] += dOut[n].
/// - Parameters: dTable [V, D]; dOut [N, D].
package func embeddingBackward(
    dTable: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, tokens: UnsafePointer<Int32>, count: Int, width: Int
) {
    for n in 0..<count {
        let dst = dTable + Int(tokens[n]) &* width
        let src = dOut + n &* width
        for i in 0..<width { dst[i] += src[i] }
    }
}
