import TensorCore

/// Whether shared experts get a Qwen2-MoE style sigmoid gate `[1, H]`.
public enum SharedGateInit: Sendable, Equatable {
    /// No gate: shared experts are summed with weight 1 (LLaMA-MoE residual, DeepSeek).
    case none
    /// A gate whose sigmoid is exactly 1/2 on every input; the factor 2 is folded into the shared experts'
    /// `down_proj` so the block's function is unchanged. The gate is not zero but `neutralValue` in every entry
    /// (see there): llama.cpp computes this sigmoid as `silu(z) / z`, which is `0/0 = NaN` for a zero gate.
    case neutral

    /// Every entry of a neutral gate: 2⁻⁶⁴. `z = gate · x` is then nonzero for any input that is not orthogonal to
    /// the all-ones vector, yet |z| < 2⁻²⁵ (so `sigmoid(z)` rounds to exactly 1/2 in Float32, as does
    /// llama.cpp's `silu(z) / z = (z/2) / z`) unless Σ|xⱼ| > 2³⁹, far beyond any RMS-normalised hidden state.
    /// A power of two, so F32 and BF16 store it exactly (F16 flushes it to zero: keep the tensor F32).
    ///
    /// Why not zero: llama.cpp's qwen2moe graph (`src/models/qwen2moe.cpp`; `llm_build_qwen2moe` in older trees)
    /// writes the shared-expert gate as `ggml_div(ggml_silu(z), z)`, so a zero gate makes every logit NaN.
    public static let neutralValue: Float = 0x1p-64

    /// The neutral gate `[1, hiddenSize]`.
    public static func neutralGate(hiddenSize h: Int) -> FloatTensor {
        FloatTensor(shape: [1, h], values: [Float](repeating: neutralValue, count: h))
    }
}
