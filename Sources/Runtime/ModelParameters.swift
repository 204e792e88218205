import Conversion
import TensorCore

/// A view into the flat parameter buffer: `offset` floats from its start, row-major `shape`.
public struct ParameterSlice: Sendable, Equatable {
    public let offset: Int
    public let shape: [Int]
    /// Element count.
    public var count: Int { shape.reduce(1, *) }
}

/// One SwiGLU feed-forward block (a dense FFN, one expert or a shared expert): down · (silu(gate · x) ⊙ up · x).
public struct FeedForwardParameters: Sendable, Equatable {
    /// Hidden width (F or Fe).
    public let width: Int
    public let gate: ParameterSlice         // [F, D]
    public let up: ParameterSlice           // [F, D]
    public let down: ParameterSlice         // [D, F]
}

/// Router and experts of one MoE layer.
public struct MoEParameters: Sendable, Equatable {
    /// Linear router [E, D], or the first layer of LLaMA-MoE's MLP gate [E, D].
    public let router: ParameterSlice       // [E, D]
    /// Second layer of LLaMA-MoE's MLP gate (z = W2 · tanh(W1 · x)); nil for a linear router.
    public let router2: ParameterSlice?     // [E, E]
    public let experts: [FeedForwardParameters]
    /// Qwen2-MoE's shared expert, applied to every token.
    public let shared: FeedForwardParameters?
    /// Gate of the shared expert: output · sigmoid(sharedGate · x); nil means ungated.
    public let sharedGate: ParameterSlice?  // [1, D]
}

/// The FFN of one layer.
public enum FeedForwardLayer: Sendable, Equatable {
    case dense(FeedForwardParameters)
    case moe(MoEParameters)
}

/// Parameters of one decoder layer.
public struct LayerParameters: Sendable, Equatable {
    public let inputNorm: ParameterSlice            // [D]
    public let q: ParameterSlice                    // [H·hd, D]
    public let k: ParameterSlice                    // [Hkv·hd, D]
    public let v: ParameterSlice                    // [Hkv·hd, D]
    public let o: ParameterSlice                    // [D, H·hd]
    public let qBias: ParameterSlice?               // [H·hd]
    public let kBias: ParameterSlice?               // [Hkv·hd]
    public let vBias: ParameterSlice?               // [Hkv·hd]
    public let oBias: ParameterSlice?               // [D]
    /// RMSNorm over q / k before RoPE: the whole projection (OLMoE, [H·hd] / [Hkv·hd]) or each head (Qwen3,
    /// [hd]), as `ModelConfig.queryKeyNorm` says.
    public let qNorm: ParameterSlice?               // [H·hd] or [hd]
    public let kNorm: ParameterSlice?               // [Hkv·hd] or [hd]
    public let postAttentionNorm: ParameterSlice    // [D]
    public let ffn: FeedForwardLayer
}

/// Every parameter of a model in one contiguous `[Float]` (llm.c's `ParameterTensors`), with named views.
///
/// Gradients and optimizer moments can use the same `ParameterLayout` over buffers of `layout.count` floats, so an
/// optimizer step is one loop and a checkpoint is one write.
public struct ParameterLayout: Sendable, Equatable {
    public let embedding: ParameterSlice            // [V, D]
    public let layers: [LayerParameters]            // L
    public let finalNorm: ParameterSlice            // [D]
    /// `embedding` itself when the embeddings are tied.
    public let lmHead: ParameterSlice               // [V, D]
    /// Total float count.
    public let count: Int
    /// HF tensor name → slice, in load order (the names a checkpoint must provide).
    public let names: [(name: String, slice: ParameterSlice)]

    public static func == (a: ParameterLayout, b: ParameterLayout) -> Bool {
        a.count == b.count && a.layers == b.layers && a.embedding == b.embedding && a.lmHead == b.lmHead
    }

    /// Lays out the parameters of `config` in checkpoint order, with each layer's q|k|v and every FFN's gate|up
    /// adjacent (the forward pass runs each pair as one GEMM). Names come from the family's recipe by role
    /// (`config.tensorNames`); `has(name)` tells which optional tensors the checkpoint carries (biases, q/k norms,
    /// shared-expert gate, an untied output for a tied config) and which of a role's alternative names it uses.
    public init(config c: ModelConfig, has: (String) -> Bool) {
        var offset = 0
        var names: [(String, ParameterSlice)] = []
        let naming = c.tensorNames
        func slice(_ name: String, _ shape: [Int]) -> ParameterSlice {
            let s = ParameterSlice(offset: offset, shape: shape)
            offset += s.count
            names.append((name, s))
            return s
        }
        /// The slice of a role the family always has (named by its preferred candidate when the checkpoint lacks
        /// it, so loading reports that name as missing).
        func required(_ role: TensorNaming.Role, _ shape: [Int], layer: Int? = nil, expert: Int? = nil) -> ParameterSlice {
            slice(naming.name(role, layer: layer, expert: expert, exists: has) ?? role.rawValue, shape)
        }
        /// The slice of a role when the checkpoint has one of its names.
        func optional(_ role: TensorNaming.Role, _ shape: [Int], layer: Int? = nil) -> ParameterSlice? {
            guard let name = naming.names(role, layer: layer).first(where: has) else { return nil }
            return slice(name, shape)
        }
        let D = c.hiddenSize, qW = c.headCount * c.headDim, kvW = c.kvHeadCount * c.headDim
        let qNormWidth = c.queryKeyNorm == .head ? c.headDim : qW
        let kNormWidth = c.queryKeyNorm == .head ? c.headDim : kvW
        func ffn(_ roles: (TensorNaming.Role, TensorNaming.Role, TensorNaming.Role), _ width: Int, layer: Int, expert: Int? = nil) -> FeedForwardParameters {
            FeedForwardParameters(
                width: width, gate: required(roles.0, [width, D], layer: layer, expert: expert),
                up: required(roles.1, [width, D], layer: layer, expert: expert),
                down: required(roles.2, [D, width], layer: layer, expert: expert))
        }
        embedding = required(.embedding, [c.vocabularySize, D])
        var layers: [LayerParameters] = []
        for l in 0..<c.layerCount {
            let inputNorm = required(.attentionNorm, [D], layer: l)
            let q = required(.query, [qW, D], layer: l)
            let k = required(.key, [kvW, D], layer: l)
            let v = required(.value, [kvW, D], layer: l)
            let o = required(.attentionOutput, [D, qW], layer: l)
            let qBias = optional(.queryBias, [qW], layer: l)
            let kBias = optional(.keyBias, [kvW], layer: l)
            let vBias = optional(.valueBias, [kvW], layer: l)
            let oBias = optional(.attentionOutputBias, [D], layer: l)
            let qNorm = optional(.queryNorm, [qNormWidth], layer: l)
            let kNorm = optional(.keyNorm, [kNormWidth], layer: l)
            let postNorm = required(.ffnNorm, [D], layer: l)
            let layerFFN: FeedForwardLayer
            if let moe = c.moe, moe.sparseLayers[l] {
                let E = moe.expertCount
                let sizes = moe.expertSizes[l]
                let router = required(.router, [E, D], layer: l)
                let router2 = moe.gateNetwork == .mlp ? required(.router2, [E, E], layer: l) : nil
                let experts = (0..<E).map { e in ffn((.expertGate, .expertUp, .expertDown), sizes[e], layer: l, expert: e) }
                let shared = moe.sharedExpertSize.map { ffn((.sharedGate, .sharedUp, .sharedDown), $0, layer: l) }
                let sharedGate = shared == nil ? nil : optional(.sharedExpertGate, [1, D], layer: l)
                layerFFN = .moe(MoEParameters(router: router, router2: router2, experts: experts, shared: shared, sharedGate: sharedGate))
            } else {
                layerFFN = .dense(ffn((.denseGate, .denseUp, .denseDown), c.intermediateSize, layer: l))
            }
            layers.append(LayerParameters(
                inputNorm: inputNorm, q: q, k: k, v: v, o: o, qBias: qBias, kBias: kBias, vBias: vBias, oBias: oBias,
                qNorm: qNorm, kNorm: kNorm, postAttentionNorm: postNorm, ffn: layerFFN))
        }
        self.layers = layers
        finalNorm = required(.outputNorm, [D])
        let untied = naming.names(.output).first(where: has)
        lmHead = c.tieWordEmbeddings && untied == nil ? embedding : required(.output, [c.vocabularySize, D])
        count = offset
        self.names = names
    }
}

extension ParameterLayout {
    /// Decodes every tensor the layout names from `source` into `destination` (`count` floats), checking shapes.
    /// - Throws: `RuntimeError.missingTensor` / `.shapeMismatch`, or whatever decoding throws.
    func load(from source: any WeightSource, into destination: UnsafeMutablePointer<Float>) throws {
        for (name, slice) in names {
            guard source.contains(name) else { throw RuntimeError.missingTensor(name) }
            let tensor = try source.floats(name)
            // Shapes must match up to unit axes (a [1, D] shared-expert gate may be stored as [D]): the same values in
            // the same order.
            guard tensor.count == slice.count, tensor.shape.filter({ $0 != 1 }) == slice.shape.filter({ $0 != 1 })
            else { throw RuntimeError.shapeMismatch(tensor: name, expected: slice.shape, found: tensor.shape) }
            tensor.values.withUnsafeBufferPointer { (destination + slice.offset).update(from: $0.baseAddress!, count: slice.count) }
        }
    }
}

/// A model's parameters: one flat buffer plus its layout.
public struct ModelParameters: Sendable {
    public let layout: ParameterLayout
    /// `layout.count` floats.
    public var values: [Float]

    /// Zero-filled parameters for `layout` (fill them in place, e.g. in tests or an initialiser).
    public init(layout: ParameterLayout) {
        self.layout = layout
        values = [Float](repeating: 0, count: layout.count)
    }

    /// Loads every tensor the layout names from `source`, checking shapes.
    /// - Throws: `RuntimeError.missingTensor` / `.shapeMismatch`, or whatever decoding throws.
    public init(config: ModelConfig, source: any WeightSource) throws {
        self.init(layout: ParameterLayout(config: config, has: source.contains))
        let layout = self.layout
        try values.withUnsafeMutableBufferPointer { try layout.load(from: source, into: $0.baseAddress!) }
    }

    /// A copy of the values of `slice`.
    public func tensor(_ slice: ParameterSlice) -> FloatTensor {
        FloatTensor(shape: slice.shape, values: Array(values[slice.offset..<(slice.offset + slice.count)]))
    }
}
