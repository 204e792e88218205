/// A `--mixture` choice: how training batches draw from domains.
public enum MixtureSpec: Equatable, Sendable {
    /// Every domain equally.
    case uniform
    /// LLaMA-MoE `LLAMA_DATA_PORTION` (`prob_map=llama`, llama-moe `smoe/data/dynamic_selection.py`).
    case staticLLaMA
    /// LLaMA-MoE `SHEAREDLLAMA_DATA_PORTION` (`prob_map=sheared_llama`).
    case staticSheared
    /// Explicit weights per domain name (`custom:book=0.3,c4=0.7`); unlisted domains get 0.
    case custom([CustomWeight])
    /// StaticLLaMA start, updated at each evaluation by `update_weight_sheared_llama` (LLaMA-MoE DynamicSheared).
    case dynamicSheared
    /// StaticLLaMA start, updated by `update_weight_sheared_llama_paper` (Sheared-LLaMA, arXiv 2310.06694).
    case dynamicPaper

    /// One `name=weight` of a custom mixture.
    public struct CustomWeight: Equatable, Sendable {
        public var domain: String
        public var weight: Double
    }

    /// Names accepted by `parse`.
    public static let names = ["uniform", "static-llama", "static-sheared", "custom:NAME=W,...", "dynamic-sheared", "dynamic-paper"]

    /// Parses a `--mixture` value.
    /// - Throws: `TrainingDataError.invalidMixture` for unknown names and malformed or negative custom weights.
    public static func parse(_ text: String) throws(TrainingDataError) -> MixtureSpec {
        switch text {
        case "uniform": return .uniform
        case "static-llama": return .staticLLaMA
        case "static-sheared": return .staticSheared
        case "dynamic-sheared": return .dynamicSheared
        case "dynamic-paper": return .dynamicPaper
        default: break
        }
        guard text.hasPrefix("custom:") else {
            throw .invalidMixture(spec: text, problem: "unknown mixture (expected one of \(names.joined(separator: ", ")))")
        }
        var weights: [CustomWeight] = []
        for item in text.dropFirst("custom:".count).split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, let weight = Double(parts[1]) else {
                throw .invalidMixture(spec: text, problem: "'\(item)' is not of the form domain=weight")
            }
            guard weight.isFinite, weight >= 0 else {
                throw .invalidMixture(spec: text, problem: "weight of '\(parts[0])' must be a finite number ≥ 0, got \(parts[1])")
            }
            guard !weights.contains(where: { $0.domain == parts[0] }) else {
                throw .invalidMixture(spec: text, problem: "domain '\(parts[0])' is listed twice")
            }
            weights.append(.init(domain: String(parts[0]), weight: weight))
        }
        return .custom(weights)
    }

    /// Whether the weights change at each evaluation.
    public var isDynamic: Bool { self == .dynamicSheared || self == .dynamicPaper }

    /// The update rule of a dynamic mixture.
    public var updateRule: DynamicMixtureRule? {
        switch self {
        case .dynamicSheared: return .sheared()
        case .dynamicPaper: return .paper()
        default: return nil
        }
    }
}
