/// A family's Hugging Face tensor names by role, read from its recipe: what the runtime uses to lay out and load
/// parameters without spelling a tensor name. Patterns carry `{L}` (layer) and `{E}` (expert).
public struct TensorNaming: Sendable, Equatable {
    public typealias Role = ArchitectureRecipe.TensorRole

    /// Name patterns per role: the recipe's `hf` first, then its `hf_alternatives`, then further entries of the
    /// same role, in recipe order.
    public let patterns: [Role: [String]]
    /// Shape expressions (`ne`, innermost first) of each role's first entry.
    public let shapes: [Role: [String]]

    public init(recipe: ArchitectureRecipe) {
        var patterns: [Role: [String]] = [:]
        var shapes: [Role: [String]] = [:]
        for entry in recipe.tensors {
            guard let role = entry.role else { continue }
            patterns[role, default: []].append(contentsOf: [entry.hf] + entry.hfAlternatives)
            if shapes[role] == nil { shapes[role] = entry.ne }
        }
        self.patterns = patterns
        self.shapes = shapes
    }

    /// Whether the family has tensors of `role`.
    public func has(_ role: Role) -> Bool { patterns[role] != nil }

    /// The candidate names of `role` for `layer` and `expert`, in order of preference.
    public func names(_ role: Role, layer: Int? = nil, expert: Int? = nil) -> [String] {
        (patterns[role] ?? []).map { pattern in
            let filled = expert.map { pattern.replacingOccurrences(of: "{E}", with: String($0)) } ?? pattern
            return NamePattern(filled).name(layer: layer)
        }
    }

    /// The name of `role` a checkpoint uses: the first candidate `exists` accepts, else the first candidate (the
    /// name reported as missing). Nil when the family has no such role.
    public func name(_ role: Role, layer: Int? = nil, expert: Int? = nil, exists: (String) -> Bool) -> String? {
        let candidates = names(role, layer: layer, expert: expert)
        return candidates.first(where: exists) ?? candidates.first
    }
}
