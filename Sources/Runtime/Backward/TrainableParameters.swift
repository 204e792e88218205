/// Which parameter groups a training pass computes gradients for (`moekit train --train`). A frozen group gets no
/// weight gradient at all (its weight-gradient GEMMs are skipped), not merely no update; gradients still flow through
/// its layers to the groups below.
///
/// - `router`: every MoE router (the linear gate, or both layers of LLaMA-MoE's MLP gate);
/// - `experts`: every expert FFN of an MoE layer, the shared expert and its sigmoid gate;
/// - `nonExpert`: everything else (embeddings, attention, norms, dense FFNs, LM head).
public struct TrainableParameters: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    public static let router = TrainableParameters(rawValue: 1)
    public static let experts = TrainableParameters(rawValue: 2)
    public static let nonExpert = TrainableParameters(rawValue: 4)
    public static let all: TrainableParameters = [.router, .experts, .nonExpert]

    /// The groups named by a `--train` value: `all`, or `router`, `experts`, `non-expert` joined by `+`
    /// (e.g. `router+experts`). Nil for anything else.
    public init?(spelling: String) {
        if spelling == "all" {
            self = .all
            return
        }
        var groups: TrainableParameters = []
        for part in spelling.split(separator: "+", omittingEmptySubsequences: false) {
            switch part {
            case "router": groups.insert(.router)
            case "experts": groups.insert(.experts)
            case "non-expert": groups.insert(.nonExpert)
            default: return nil
            }
        }
        guard !groups.isEmpty else { return nil }
        self = groups
    }

    /// The canonical spelling (`all`, or the groups joined by `+`).
    public var description: String {
        if self == .all { return "all" }
        return [(TrainableParameters.router, "router"), (.experts, "experts"), (.nonExpert, "non-expert")]
            .filter { contains($0.0) }.map(\.1).joined(separator: "+")
    }
}

extension ParameterLayout {
    /// The group each tensor of the layout belongs to, in `names` order.
    public var parameterGroups: [(name: String, slice: ParameterSlice, group: TrainableParameters)] {
        var routers = Set<Int>(), experts = Set<Int>()
        for layer in layers {
            guard case .moe(let m) = layer.ffn else { continue }
            routers.insert(m.router.offset)
            if let second = m.router2 { routers.insert(second.offset) }
            for ffn in m.experts + (m.shared.map { [$0] } ?? []) {
                experts.formUnion([ffn.gate.offset, ffn.up.offset, ffn.down.offset])
            }
            if let gate = m.sharedGate { experts.insert(gate.offset) }
        }
        return names.map { name, slice in
            let group: TrainableParameters = routers.contains(slice.offset) ? .router
                : experts.contains(slice.offset) ? .experts : .nonExpert
            return (name, slice, group)
        }
    }

    /// Whether the layout has MoE layers (and so routers and experts).
    public var hasExperts: Bool {
        layers.contains { if case .moe = $0.ffn { return true } else { return false } }
    }
}
