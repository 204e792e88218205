import Conversion

/// An MoE output layout read from its recipe (`Converters/<name>.json` with `expert_count`, a `moe` section and
/// `moe_role` tensor entries): which tensors hold the router, experts and shared expert, which config fields carry
/// N, K and the widths, and how the target runtimes route. The writer asks this type; it never switches on names.
public struct MoETarget: Sendable {
    public typealias Role = ArchitectureRecipe.MoERole

    public let recipe: ArchitectureRecipe
    /// The recipe's `moe` section.
    public let moe: ArchitectureRecipe.MoEDescription
    /// Config field with N.
    public let expertCountField: String
    /// Tensor entries by role.
    public let roles: [Role: ArchitectureRecipe.TensorMapping]

    /// Names of the MoE targets in `library`, sorted.
    public static func known(in library: RecipeLibrary) -> [String] {
        library.recipes.values.filter { $0.moe != nil && $0.expertCountField != nil }.map(\.name).sorted()
    }

    /// Whether `library` has an MoE target called `name` (a recipe with `expert_count` and a `moe` section).
    public static func exists(_ name: String, in library: RecipeLibrary) -> Bool {
        guard let recipe = library.recipes[name] else { return false }
        return recipe.moe != nil && recipe.expertCountField != nil
    }

    /// Reads target `name` from `library`.
    /// - Throws: `MoEWriterError.unknownTarget` (listing the known targets) when there is no such MoE recipe, or
    ///   `.invalidTarget` when the recipe lacks a role the writer needs.
    public init(name: String, library: RecipeLibrary) throws(MoEWriterError) {
        guard let recipe = library.recipes[name], let moe = recipe.moe, let count = recipe.expertCountField else {
            throw .unknownTarget(name, known: Self.known(in: library))
        }
        var roles: [Role: ArchitectureRecipe.TensorMapping] = [:]
        for mapping in recipe.tensors { if let role = mapping.moeRole { roles[role] = mapping } }
        for role in [Role.router, .expertGate, .expertUp, .expertDown] where roles[role] == nil {
            throw .invalidTarget(recipe.sourcePath, problem: "no tensor entry with \"moe_role\": \"\(role.rawValue)\"")
        }
        let shared = [Role.sharedGate, .sharedUp, .sharedDown].filter { roles[$0] != nil }.count
        guard shared == 0 || shared == 3, (shared == 3) == (moe.sharedExpertWidthField != nil) else {
            throw .invalidTarget(recipe.sourcePath, problem: "shared_gate/up/down entries and moe.shared_expert_width go together")
        }
        if moe.denseLayersField != nil, [Role.denseGate, .denseUp, .denseDown].contains(where: { roles[$0] == nil }) {
            throw .invalidTarget(recipe.sourcePath, problem: "moe.dense_layers needs dense_gate/up/down entries")
        }
        guard moe.expertWidthField != nil || moe.perExpertWidthsField != nil else {
            throw .invalidTarget(recipe.sourcePath, problem: "moe needs expert_width or per_expert_widths")
        }
        self.recipe = recipe
        self.moe = moe
        self.expertCountField = count
        self.roles = roles
    }

    public var name: String { recipe.name }
    /// The layout has (one) shared expert.
    public var hasSharedExpert: Bool { roles[.sharedGate] != nil }
    /// The shared expert has a sigmoid gate (`shared_expert_gate`).
    public var hasSharedExpertGate: Bool { roles[.sharedExpertGate] != nil }
    /// Dense layers can be expressed in `format`.
    public func canExpressDenseLayers(in format: MoEModelWriter.Format) -> Bool {
        moe.denseLayersField != nil && format == .safetensors
    }
    /// The routed-output factor is a config field (else it is folded into down_proj).
    public var keepsScoreScale: Bool { moe.scoreScaleField != nil }
    /// Experts of one layer may have different widths.
    public var allowsUnequalWidths: Bool { moe.perExpertWidthsField != nil }
    /// The target can sum the selected experts with weight 1.
    public var canExpressUnitWeights: Bool { moe.unweightedFlagField != nil }

    /// The routing the target runtimes apply.
    public var routing: ExpertRouting {
        switch moe.routing {
        case .softmaxTopKRenormalized: return .softmaxThenTopK(renormalize: true)
        case .softmaxTopK: return .softmaxThenTopK(renormalize: false)
        case .topKSoftmax: return .topKSoftmax
        }
    }
}
