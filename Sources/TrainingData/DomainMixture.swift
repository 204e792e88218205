/// Mixture weights over the domains of a data directory, resolved from a `MixtureSpec`.
public struct DomainMixture: Equatable, Sendable {
    public let spec: MixtureSpec
    public let domains: [String]
    /// A distribution over `domains` (sums to 1).
    public private(set) var weights: [Double]
    /// Human-readable notes (unmapped domains, unlisted custom domains).
    public let warnings: [String]

    /// Resolves `spec` onto `domains`. LLaMA-MoE proportions are mapped by `LLaMAMoEProportions.aliases` and
    /// renormalised over the mapped domains; unmapped domains get weight 0 and a warning lists them.
    /// - Throws: `TrainingDataError.invalidMixture` when a custom mixture names an unknown domain, when weights do
    ///   not sum to a positive number, when no domain maps onto the LLaMA-MoE table, or when two domains map onto
    ///   the same SlimPajama domain.
    public init(spec: MixtureSpec, domains: [String], specText: String? = nil) throws(TrainingDataError) {
        self.spec = spec
        self.domains = domains
        let text = specText ?? "\(spec)"
        guard !domains.isEmpty else { throw .invalidMixture(spec: text, problem: "the data has no domains") }
        var raw = [Double](repeating: 0, count: domains.count)
        var warnings: [String] = []
        switch spec {
        case .uniform:
            raw = raw.map { _ in 1 }
        case .custom(let items):
            for item in items {
                guard let index = domains.firstIndex(of: item.domain) else {
                    throw .invalidMixture(spec: text, problem: "unknown domain '\(item.domain)' (the data has \(domains.joined(separator: ", ")))")
                }
                raw[index] = item.weight
            }
            let unlisted = domains.filter { name in !items.contains { $0.domain == name } }
            if !unlisted.isEmpty { warnings.append("domains not in the mixture get weight 0: \(unlisted.joined(separator: ", "))") }
        case .staticLLaMA, .staticSheared, .dynamicSheared, .dynamicPaper:
            let table = spec == .staticSheared ? LLaMAMoEProportions.sheared : LLaMAMoEProportions.llama
            var seen: [String: String] = [:]
            var unmapped: [String] = []
            for (index, name) in domains.enumerated() {
                guard let canonical = LLaMAMoEProportions.canonical(name), let weight = table[canonical] else {
                    unmapped.append(name)
                    continue
                }
                if let other = seen[canonical] {
                    throw .invalidMixture(spec: text, problem: "domains '\(other)' and '\(name)' both map to SlimPajama '\(canonical)'")
                }
                seen[canonical] = name
                raw[index] = weight
            }
            if !unmapped.isEmpty {
                warnings.append(
                    "domains without a LLaMA-MoE proportion get weight 0: \(unmapped.joined(separator: ", ")) (known: \(LLaMAMoEProportions.aliases.keys.sorted().joined(separator: ", ")))")
            }
        }
        let total = raw.reduce(0, +)
        guard total > 0, total.isFinite else {
            throw .invalidMixture(spec: text, problem: "weights sum to \(total); they must sum to a positive number")
        }
        weights = raw.map { $0 / total }
        self.warnings = warnings
    }

    /// Replaces the weights (after a dynamic update).
    /// - Throws: `TrainingDataError.invalidMixture` unless `newWeights` is a distribution over the same domains.
    public mutating func setWeights(_ newWeights: [Double]) throws(TrainingDataError) {
        let total = newWeights.reduce(0, +)
        guard newWeights.count == domains.count, newWeights.allSatisfy({ $0 >= 0 && $0.isFinite }), abs(total - 1) < 1e-9 else {
            throw .invalidMixture(spec: "\(spec)", problem: "updated weights \(newWeights) are not a distribution over \(domains.count) domains")
        }
        weights = newWeights
    }

    /// LLaMA-2-7B's SlimPajama validation losses for the mapped domains (nil for domains without one).
    public var llamaReferenceLosses: [Double?] {
        domains.map { LLaMAMoEProportions.canonical($0).flatMap { LLaMAMoEProportions.referenceLosses[$0] } }
    }
}
