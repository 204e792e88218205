import Conversion
import Foundation
import IOCore
import TensorCore

/// Tensor naming: the target's tensors under their HF names and shapes, resolved against the source and the layer
/// plans.
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
                    let sourceName = denseName(l, role)
                    used.insert(sourceName)
                    planned.append(PlannedTensor(name: name, shape: source.view(sourceName)?.shape ?? [], content: .source(sourceName)))
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
            if let l = (0..<layers).first(where: { l in Self.denseRoles.contains { denseName(l, $0) == name } }),
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

    /// The source's dense FFN roles, in the order gate, up, down.
    static let denseRoles: [ArchitectureRecipe.MoERole] = [.denseGate, .denseUp, .denseDown]

    /// Layer `layer`'s dense FFN tensor of `role` under the source recipe's name ("" when the recipe has none;
    /// `init` refuses such a source).
    func denseName(_ layer: Int, _ role: ArchitectureRecipe.MoERole) -> String {
        source.recipe.tensor(role: role)?.hfName(layer: layer, expert: nil) ?? ""
    }
}
