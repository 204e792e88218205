/// How an MoE layer turns router logits z into the weights of the K experts each token uses: the one routing type
/// of the package (recipes, runtime, transforms).
///
/// Top-K selection is by logit (equivalently by softmax probability); ties go to the lower expert index.
public enum ExpertRouting: Sendable, Hashable {
    /// Softmax over all E logits, keep the top-K probabilities; with `renormalize` they are divided by their sum
    /// (Mixtral always; Qwen2-MoE / OLMoE iff `norm_topk_prob`), otherwise they keep their full-softmax values.
    /// transformers `MixtralSparseMoeBlock`, `Qwen2MoeSparseMoeBlock`, `OlmoeSparseMoeBlock`.
    case softmaxThenTopK(renormalize: Bool)
    /// The top-K logits, softmax over those K (raw logits when `softmax` is false, LLaMA-MoE `gate_use_softmax`),
    /// times the layer's score scale; with `multiplyScores` false (`multiply_gate_scores: false`) every selected
    /// expert weighs exactly 1 — the partition identity of an exact K = N split. LLaMA-MoE
    /// `TopKBalancedNoisyGate` + `UniversalCalculator` (pjlab-sys4nlp/llama-moe, `smoe/modules/moe/moe_gates.py`).
    case topKThenSoftmax(softmax: Bool, multiplyScores: Bool)

    /// LLaMA-MoE's top-K → softmax over the K, times the score scale (`gate_use_softmax`, `multiply_gate_scores`).
    public static let topKSoftmax = ExpertRouting.topKThenSoftmax(softmax: true, multiplyScores: true)
    /// Every selected expert weighs exactly 1 (`multiply_gate_scores: false`): with K = N the partition identity of
    /// an exact split.
    public static let unitWeights = ExpertRouting.topKThenSoftmax(softmax: false, multiplyScores: false)

    /// Whether the K weights of a token always sum to 1 (before any score scale).
    public var weightsSumToOne: Bool {
        switch self {
        case .softmaxThenTopK(let renormalize): return renormalize
        case .topKThenSoftmax(let softmax, let multiplyScores): return softmax && multiplyScores
        }
    }
}
