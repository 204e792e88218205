import Conversion

/// NVIDIA's virtual-group weight scaling for fine-grained upcycling (Megatron-LM
/// `megatron/core/transformer/moe/upcycling_utils.py`; arXiv 2410.07524).
public enum VirtualGroupScaling {
    /// The factor s by which the routed experts' output must be multiplied so that R copies × G shards with
    /// router rows replicated G times reproduce the dense FFN:
    /// - renormalised routing (`softmaxThenTopK(renormalize: true)`, `topKSoftmax`): `s = G`
    ///   (the K selected shards = K/G whole copies carry weights summing to 1, each shard set sums to MLP/G);
    ///   exact for any router when G | K;
    /// - softmax without renormalisation (Megatron `moe_router_pre_softmax`): `s = R·G²/K`; exact when the routing
    ///   probabilities are uniform, 1/(R·G) (zero router), otherwise an approximation;
    /// - unit weights: `s = G/K` (K shards = K/G copies, each weight 1).
    ///
    /// Megatron multiplies fc1 and fc2 by s^(1/3) (GLU); that split is exact only for positively homogeneous
    /// activations, so for SwiGLU moekit multiplies `down_proj` alone by s, which is exact.
    public static func factor(copies r: Int, granularity g: Int, topK k: Int, routing: ExpertRouting) -> Float {
        switch routing {
        case .softmaxThenTopK(renormalize: true), .topKThenSoftmax(softmax: true, multiplyScores: true):
            return Float(g)
        case .softmaxThenTopK(renormalize: false):
            return Float(r * g * g) / Float(k)
        case .topKThenSoftmax(_, multiplyScores: false):
            return Float(g) / Float(k)
        case .topKThenSoftmax(softmax: false, multiplyScores: true):
            return Float(g)  // raw logits: no factor is exact; keep the renormalised convention
        }
    }
}
