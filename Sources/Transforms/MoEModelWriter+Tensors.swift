import Foundation
import Formats
import TensorCore

/// The output tensors, in HF names and layout first (`plannedTensors`), then as safetensors or streamed GGUF.
extension MoEModelWriter {
    /// Where a planned tensor's values come from.
    enum Content {
        /// A source tensor, in HF layout.
        case source(String)
        /// Part of layer `layer`'s MoE block: tensor `role` of routed expert `expert` (0 for other roles).
        case block(layer: Int, role: MoETarget.Role, expert: Int, values: (MoEFFN) -> [Float])
        /// Every element equal to this value (recipe `synthesize`).
        case filled(Float)
    }

    /// One output tensor under its HF name and shape.
    struct PlannedTensor {
        let name: String
        let shape: [Int]
        let content: Content
    }

    /// The target's tensors in HF state-dict order (experts expanded expert by expert), resolved against the source
    /// and the layer plans. Dense layers keep their MLP where the target has `dense_*` entries; the tied output of
    /// a tied source is left out (the GGUF stream adds a copy where the architecture requires one).
    /// - Throws: `ConversionError.missingTensor` / `.unexpectedTensor` when source and recipe disagree.
    func plannedTensors() throws -> [PlannedTensor] {
        let dimensions = try outputDimensions()
        var used = Set<String>()
        var planned: [PlannedTensor] = []
        for (mapping, layer, expert) in RecipeTensorOrder.expandHF(recipe.tensors, blocks: layers, experts: experts) {
            let name = mapping.hfName(layer: layer, expert: expert)
            if let role = mapping.moeRole, let l = layer {
                let isDense = layerPlans[l].construction == nil
                switch role {
                case .denseGate, .denseUp, .denseDown:
                    guard isDense else { continue }
                    let denseName = Self.denseName(l, role == .denseGate ? "gate_proj" : role == .denseUp ? "up_proj" : "down_proj")
                    used.insert(denseName)
                    planned.append(PlannedTensor(name: name, shape: source.view(denseName)?.shape ?? [], content: .source(denseName)))
                default:
                    guard !isDense else { continue }
                    planned.append(blockTensor(role, name: name, layer: l, expert: expert ?? 0))
                }
                continue
            }
            if let view = source.view(name) {
                used.insert(name)
                planned.append(PlannedTensor(name: name, shape: view.shape, content: .source(name)))
            } else if let value = mapping.synthesize {
                let shape = Array(try mapping.ne.map { try dimensions.evaluate($0) }.reversed())
                planned.append(PlannedTensor(name: name, shape: shape, content: .filled(value)))
            } else if !mapping.optional && recipe.tiedEmbeddings?.hfOutput != name {
                throw ConversionError.missingTensor(path: source.path, tensor: name)
            }
        }
        for name in source.tensorNames where !used.contains(name) {
            if let l = (0..<layers).first(where: { l in ["gate_proj", "up_proj", "down_proj"].contains { Self.denseName(l, $0) == name } }),
                layerPlans[l].construction != nil
            { continue }
            if recipe.ignoreHF.contains(where: { NamePattern($0).match(name) != nil }) { continue }
            throw ConversionError.unexpectedTensor(path: source.path, tensor: name, hint: "target \(recipe.name) (\(recipe.sourcePath)) has no such tensor")
        }
        return planned
    }

    /// A tensor of a layer's MoE block by role.
    private func blockTensor(_ role: MoETarget.Role, name: String, layer l: Int, expert e: Int) -> PlannedTensor {
        let h = hidden, n = experts, w = expertWidth, s = sharedWidth
        let (shape, values): ([Int], (MoEFFN) -> [Float]) = switch role {
        case .router: ([n, h], { $0.router.values })
        case .router2: ([n, n], { _ in Self.identityRouter2(n) })
        case .expertGate: ([w, h], { $0.experts[e].gate.values })
        case .expertUp: ([w, h], { $0.experts[e].up.values })
        case .expertDown: ([h, w], { $0.experts[e].down.values })
        case .sharedGate: ([s, h], { $0.sharedExperts[0].gate.values })
        case .sharedUp: ([s, h], { $0.sharedExperts[0].up.values })
        case .sharedDown: ([h, s], { $0.sharedExperts[0].down.values })
        case .sharedExpertGate: ([1, h], { $0.sharedGate?.values ?? SharedGateInit.neutralGate(hiddenSize: h).values })
        case .denseGate, .denseUp, .denseDown: preconditionFailure("dense roles are source tensors")
        }
        return PlannedTensor(name: name, shape: shape, content: .block(layer: l, role: role, expert: e, values: values))
    }

    /// Dimensions of the output config (config fields, recipe defaults and derived values) for recipe shapes.
    func outputDimensions() throws -> DimensionResolver {
        var dimensions = try GGUFModelMetadata.configPairs(
            recipe: recipe, config: outputConfig(), configPath: "\(recipe.name) config", hfShape: { _ in nil },
            llama3Factors: true).dimensions  // dimensions only: the GGUF metadata path refuses llama3 scaling
        for (key, value) in (outputConfig().objectValue ?? JSONObject()).pairs where dimensions.values[key] == nil {
            if case .integer(let i) = value { dimensions.values[key] = Int(i) }
        }
        try dimensions.addDerived(recipe.derived)
        return dimensions
    }

    /// Encodes a planned tensor's values as `type` (F32/F16/BF16), reading the block from `cache`.
    func encoded(_ tensor: PlannedTensor, as type: DType, cache: LayerCache) throws -> [UInt8] {
        let floats: [Float]
        switch tensor.content {
        case .source(let name): floats = try source.floats(name).values
        case .filled(let value): floats = [Float](repeating: value, count: tensor.shape.reduce(1, *))
        case .block(let l, _, _, let values):
            if cache.layer != l {
                cache.block = nil
                cache.block = try moe(l)
                cache.layer = l
            }
            floats = values(cache.block!)
        }
        return Self.encode(floats, as: type)
    }

    /// safetensors output: every planned tensor in `dtype`; source tensors stream through their transcoder.
    func hfTensors(cache: LayerCache) throws -> [OutputTensor] {
        let encoding = TensorEncoding.dense(dtype)
        return try plannedTensors().map { tensor in
            if case .source(let name) = tensor.content, let transcoder = source.transcoder(name, to: encoding) {
                return try transcoder.outputTensor(name: tensor.name)
            }
            let bytes = encoding.byteCount(elements: tensor.shape.reduce(1, *))!
            return OutputTensor(name: tensor.name, shape: tensor.shape, encoding: encoding, byteCount: bytes) { writer in
                try self.write(tensor, as: self.dtype, cache: cache, into: writer)
            }
        }
    }

    /// GGUF output, in recipe order: stacked experts written back to back in expert order, norms/1-D/router F32,
    /// Q/K rows in the target's RoPE layout, shapes from `gguf_ne` where given, and a copy of the embeddings as
    /// `output.weight` when the source is tied and the architecture requires the tensor.
    /// - Throws: `ConversionError.shapeMismatch` when a tensor cannot take the GGUF shape (e.g. OLMoE k_norm with
    ///   n_head_kv ≠ n_head).
    func ggufTensors(cache: LayerCache) throws -> [OutputTensor] {
        let dimensions = try outputDimensions()
        let planned = try plannedTensors()
        let byName = Dictionary(planned.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var outputs: [OutputTensor] = []
        for (mapping, layer) in RecipeTensorOrder.expand(recipe.tensors, blocks: layers) {
            let ggufName = mapping.ggufName(layer: layer, expert: nil)
            let parts: [PlannedTensor]
            if mapping.stackExperts {
                parts = (0..<experts).compactMap { byName[mapping.hfName(layer: layer, expert: $0)] }
            } else if let tensor = byName[mapping.hfName(layer: layer, expert: nil)] {
                parts = [tensor]
            } else if let tied = recipe.tiedEmbeddings, tied.ggufOutputRequired, tied.hfOutput == mapping.hf,
                let embedding = recipe.tensors.first(where: { $0.gguf == "token_embd.weight" }), let tensor = byName[embedding.hf]
            {
                parts = [tensor]
            } else {
                continue
            }
            guard !parts.isEmpty else { continue }
            let shape = try mapping.ggufShape(dimensions)
            let elements = parts.reduce(0) { $0 + $1.shape.reduce(1, *) }
            guard shape.reduce(1, *) == elements else {
                throw ConversionError.shapeMismatch(
                    path: "target \(recipe.name) (\(recipe.ggufArchitecture))", tensor: ggufName, expected: Array(shape.reversed()),
                    found: Array(parts[0].shape.reversed()))
            }
            let type: DType = mapping.keepF32 || shape.count < 2 ? .f32 : dtype
            let encoding = TensorEncoding.dense(type)
            if parts.count == 1, case .source(let name) = parts[0].content, let stored = source.transcoder(name, to: encoding) {
                outputs.append(try ggufTranscoder(stored, mapping: mapping, dimensions: dimensions).outputTensor(name: ggufName, shape: shape))
                continue
            }
            outputs.append(OutputTensor(name: ggufName, shape: shape, encoding: encoding, byteCount: elements * type.byteSize) { writer in
                for part in parts { try self.write(part, as: type, cache: cache, into: writer) }
            })
        }
        return outputs
    }

    /// A source tensor's transcoder with the rows in the target's layout: a GGUF source's RoPE permutation and the
    /// target's cancel; an HF source gets the HF → GGUF permutation where the recipe asks for it.
    private func ggufTranscoder(
        _ stored: TensorTranscoder, mapping: ArchitectureRecipe.TensorMapping, dimensions: DimensionResolver
    ) throws -> TensorTranscoder {
        guard let headsField = mapping.ropePermuteHeads else { return stored }
        if stored.permutation != nil { return TensorTranscoder(source: stored.source, target: stored.target) }
        let permutation = RopeRowPermutation(heads: try dimensions.evaluate(headsField), rows: stored.source.shape.first ?? 0)
        guard permutation.isValid else {
            throw ConversionError.shapeMismatch(path: source.path, tensor: stored.source.name, expected: [], found: stored.source.shape)
        }
        return TensorTranscoder(source: stored.source, target: stored.target, permutation: (permutation, .hfToGGUF))
    }

    /// GGUF metadata: the recipe's config keys from `outputConfig()` (exact types), `general.*`, the source's
    /// tokenizer keys and `extra`.
    func ggufMetadata(extra: [(String, GGUFValue)]) throws -> GGUFMetadata {
        let config = outputConfig()
        let shapes = Dictionary(try plannedTensors().map { ($0.name, $0.shape) }, uniquingKeysWith: { first, _ in first })
        let (pairs, _) = try GGUFModelMetadata.configPairs(
            recipe: recipe, config: config, configPath: "\(recipe.name) config",
            hfShape: { gguf in self.recipe.tensors.first { $0.gguf == gguf }.flatMap { shapes[$0.hf] } })
        let name = source.config["_name_or_path"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            ?? URL(fileURLWithPath: source.path).deletingPathExtension().lastPathComponent
        return GGUFModelMetadata.metadata(
            recipe: recipe, name: name, type: GGMLType(dense: dtype) ?? .f32, configPairs: pairs, tokenizer: source.tokenizer,
            extra: extra)
    }
}
