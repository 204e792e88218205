import Foundation
import Testing

import TrainingData

/// Mixture resolution onto domain names and the Sheared-LLaMA dynamic rule, against hand-computed values.
@Suite("domain mixtures")
struct MixtureTests {
    static let corpus = ["arxiv", "book", "c4", "github", "stackexchange", "wikipedia"]

    @Test("static-llama maps LLaMA-MoE's proportions by alias and renormalises over the present domains")
    func staticLLaMA() throws {
        let mixture = try DomainMixture(spec: .parse("static-llama"), domains: Self.corpus)
        // arxiv 0.025, book 0.045, c4 0.15, github 0.045, stack 0.02, wikipedia 0.045: sum 0.33 (en_cc absent).
        let expected = [0.025, 0.045, 0.15, 0.045, 0.02, 0.045].map { $0 / 0.33 }
        for (w, e) in zip(mixture.weights, expected) { #expect(abs(w - e) < 1e-12) }
        #expect(mixture.warnings.isEmpty)
        #expect(abs(mixture.weights.reduce(0, +) - 1) < 1e-12)
    }

    @Test("static-sheared with SlimPajama names and an unmapped domain that gets 0 and a warning")
    func staticSheared() throws {
        let domains = ["en_cc", "en_c4", "mydata", "en_book"]
        let mixture = try DomainMixture(spec: .parse("static-sheared"), domains: domains)
        let total = 0.361 + 0.492 + 0.091
        #expect(abs(mixture.weights[0] - 0.361 / total) < 1e-12)
        #expect(abs(mixture.weights[1] - 0.492 / total) < 1e-12)
        #expect(mixture.weights[2] == 0)
        #expect(abs(mixture.weights[3] - 0.091 / total) < 1e-12)
        #expect(mixture.warnings.count == 1 && mixture.warnings[0].contains("mydata"))
        #expect(throws: TrainingDataError.self) { _ = try DomainMixture(spec: .staticSheared, domains: ["c4", "en_c4"]) }
        #expect(throws: TrainingDataError.self) { _ = try DomainMixture(spec: .staticLLaMA, domains: ["mine", "yours"]) }
    }

    @Test("uniform and custom mixtures; dynamic ones start from StaticLLaMA")
    func customAndUniform() throws {
        #expect(try DomainMixture(spec: .uniform, domains: Self.corpus).weights == [Double](repeating: 1.0 / 6, count: 6))
        let custom = try DomainMixture(spec: .parse("custom:book=0.3,c4=0.7"), domains: Self.corpus)
        #expect(custom.weights == [0, 0.3, 0.7, 0, 0, 0])
        #expect(custom.warnings.count == 1 && custom.warnings[0].contains("arxiv"))
        let unnormalised = try DomainMixture(spec: .parse("custom:book=3,c4=1"), domains: Self.corpus)
        #expect(unnormalised.weights[1] == 0.75 && unnormalised.weights[2] == 0.25)
        #expect(try DomainMixture(spec: .parse("dynamic-sheared"), domains: Self.corpus).weights
            == DomainMixture(spec: .staticLLaMA, domains: Self.corpus).weights)
        #expect(try MixtureSpec.parse("dynamic-paper").updateRule == .paper())
        #expect(try MixtureSpec.parse("static-llama").updateRule == nil)
    }

    @Test("a mixture naming an unknown domain, bad weights and unknown names are refused")
    func invalid() throws {
        #expect {
            _ = try DomainMixture(spec: .parse("custom:book=0.5,poetry=0.5"), domains: Self.corpus)
        } throws: { error in
            guard case .invalidMixture(_, let problem) = error as? TrainingDataError else { return false }
            return problem.contains("unknown domain 'poetry'") && problem.contains("arxiv, book")
        }
        #expect {
            _ = try DomainMixture(spec: .parse("custom:book=0,c4=0"), domains: Self.corpus)
        } throws: { error in
            guard case .invalidMixture(_, let problem) = error as? TrainingDataError else { return false }
            return problem.contains("sum to a positive number")
        }
        #expect(throws: TrainingDataError.self) { _ = try MixtureSpec.parse("custom:book=-1,c4=2") }
        #expect(throws: TrainingDataError.self) { _ = try MixtureSpec.parse("custom:book") }
        #expect(throws: TrainingDataError.self) { _ = try MixtureSpec.parse("custom:book=1,book=2") }
        #expect(throws: TrainingDataError.self) { _ = try MixtureSpec.parse("static") }
        #expect(throws: TrainingDataError.self) { _ = try MixtureSpec.parse("custom:book=nan") }
    }

    @Test("update_weight_sheared_llama: a domain 1 nat above its reference gains exactly w·e/(w·e + (1−w)), smoothed")
    func shearedRule() {
        // w = (½, ½), ℓ = (3, 2), ℓ_ref = (2, 2): Δ = (1, 0); α = softmax(log ½ + 1, log ½) = (e/(e+1), 1/(e+1));
        // w' = 0.9999·α + 0.0001/2, which already sums to 1.
        let e = M_E
        let updated = DynamicMixtureRule.sheared().update(weights: [0.5, 0.5], losses: [3, 2], referenceLosses: [2, 2])
        #expect(abs(updated[0] - (0.9999 * e / (e + 1) + 0.00005)) < 1e-15)
        #expect(abs(updated[0] - 0.7310354727721419) < 1e-15)
        #expect(abs(updated[1] - 0.2689645272278581) < 1e-15)
        #expect(abs(updated.reduce(0, +) - 1) < 1e-15)
        // Δ is not clipped: a domain below its reference (Δ = −0.5) loses weight: α₀ = 1/(1 + e^−1.5).
        let unclipped = DynamicMixtureRule.sheared().update(weights: [0.5, 0.5], losses: [3, 1.5], referenceLosses: [2, 2])
        #expect(abs(unclipped[0] - (0.9999 / (1 + exp(-1.5)) + 0.00005)) < 1e-15)
        #expect(abs(unclipped[0] - 0.8175427187460244) < 1e-15)
        // A zero weight comes back as the smoothing floor c/K.
        let floor = DynamicMixtureRule.sheared().update(weights: [1, 0], losses: [2, 2], referenceLosses: [2, 2])
        #expect(abs(floor[1] - 0.00005) < 1e-18 && abs(floor[0] - 0.99995) < 1e-15)
    }

    @Test("the paper variant clips Δ at 0 and does not smooth")
    func paperRule() {
        let e = M_E
        // ℓ = (3, 1.5), ℓ_ref = (2, 2): Δ = (1, max(0, −0.5) = 0); w' ∝ (½e, ½) = (e/(e+1), 1/(e+1)).
        let updated = DynamicMixtureRule.paper().update(weights: [0.5, 0.5], losses: [3, 1.5], referenceLosses: [2, 2])
        #expect(abs(updated[0] - e / (e + 1)) < 1e-15 && abs(updated[1] - 1 / (e + 1)) < 1e-15)
        // Three domains from StaticLLaMA-like weights, one far above its reference (Δ = 2): its weight rises to
        // 0.2·e² / (0.2·e² + 0.8).
        let three = DynamicMixtureRule.paper().update(weights: [0.2, 0.5, 0.3], losses: [4, 1, 1], referenceLosses: [2, 2, 2])
        let e2 = exp(2.0)
        #expect(abs(three[0] - 0.2 * e2 / (0.2 * e2 + 0.8)) < 1e-15)
        #expect(abs(three[1] - 0.5 / (0.2 * e2 + 0.8)) < 1e-15)
        #expect(abs(three.reduce(0, +) - 1) < 1e-15)
    }

    @Test("LLaMA-2-7B reference losses follow the aliases")
    func referenceLosses() throws {
        let mixture = try DomainMixture(spec: .staticLLaMA, domains: ["book", "github", "mine"])
        #expect(mixture.llamaReferenceLosses == [1.92525, 0.69845, nil])
    }
}
