/// The Q/K row reordering between Hugging Face LLaMA checkpoints and llama.cpp's `llama` architecture.
///
/// HF applies RoPE with `rotate_half` (dimension p pairs with p + D/2); llama.cpp rotates adjacent pairs
/// (2i, 2i+1). `convert_hf_to_gguf.py` (`LlamaModel.permute`) therefore reorders the rows of `q_proj` and
/// `k_proj` (weights and biases) within each head:
///
///     GGUF row h·D + 2i + t  ←  HF row h·D + t·D/2 + i      (i ∈ [0, D/2), t ∈ {0, 1})
///
/// and transformers' GGUF loader applies the inverse. Rows never share quantisation blocks, so the permutation
/// moves whole rows of bytes and works for every encoding, quantized or not.
public struct RopeRowPermutation: Sendable, Equatable {
    /// Number of heads (H).
    public let heads: Int
    /// Total rows (H·D).
    public let rows: Int

    public init(heads: Int, rows: Int) {
        self.heads = heads
        self.rows = rows
    }

    /// Whether the shape can be permuted: rows split into heads of even size.
    public var isValid: Bool { heads > 0 && rows % heads == 0 && (rows / heads) % 2 == 0 }

    /// For each GGUF row, the HF row it comes from.
    public func hfRowForGGUFRow() -> [Int] {
        let headDim = rows / heads
        let half = headDim / 2
        var map = [Int](repeating: 0, count: rows)
        for h in 0..<heads {
            for i in 0..<half {
                for t in 0..<2 {
                    map[h * headDim + 2 * i + t] = h * headDim + t * half + i
                }
            }
        }
        return map
    }

    /// Direction of a conversion.
    public enum Direction: Sendable { case hfToGGUF, ggufToHF }

    /// Writes `source` (rows × rowBytes) reordered for `direction` into `destination`.
    public func apply(
        _ direction: Direction, source: UnsafeRawBufferPointer, destination: UnsafeMutableRawBufferPointer
    ) {
        precondition(source.count == destination.count && source.count % rows == 0, "RopeRowPermutation: byte count")
        let rowBytes = source.count / rows
        guard rowBytes > 0, let src = source.baseAddress, let dst = destination.baseAddress else { return }
        let map = hfRowForGGUFRow()
        for ggufRow in 0..<rows {
            let hfRow = map[ggufRow]
            switch direction {
            case .hfToGGUF:
                (dst + ggufRow * rowBytes).copyMemory(from: src + hfRow * rowBytes, byteCount: rowBytes)
            case .ggufToHF:
                (dst + hfRow * rowBytes).copyMemory(from: src + ggufRow * rowBytes, byteCount: rowBytes)
            }
        }
    }
}
