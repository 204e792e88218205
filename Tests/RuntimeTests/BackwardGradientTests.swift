import Foundation
import Runtime
import TensorCore
import TestSupport
import Testing

/// Finite-difference checks of `lossAndGradients`: central differences of the Double reference loss
/// (`ReferenceLlama`, step 1e-4) against the analytic F32 gradients, for a sample of entries of every parameter
/// tensor and of ∂L/∂a.
@Suite("Backward gradients")
struct BackwardGradientTests {
    /// Entries sampled per tensor.
    static let samples = 5
    static let step = 1e-4

    /// The largest relative error |analytic − numeric| / max(|numeric|, 1e-3) over `indices`, numeric being the
    /// central difference of `loss` around `base` with `step`.
    static func worstRelativeError(
        indices: [Int], base: [Double], gradients: ParameterBuffer, loss: ([Double]) -> Double
    ) -> Double {
        var worst = 0.0
        for index in indices {
            var plus = base, minus = base
            plus[index] += step
            minus[index] -= step
            let numeric = (loss(plus) - loss(minus)) / (2 * step)
            let analytic = gradients.withUnsafeBufferPointer { Double($0[index]) }
            worst = max(worst, abs(analytic - numeric) / max(abs(numeric), 1e-3))
        }
        return worst
    }

    /// Checks sampled entries of every tensor; returns the largest relative error per tensor kind.
    /// The error of one entry is |analytic − numeric| / max(|numeric|, 1e-3 · max |numeric| over the model), so
    /// entries near zero are measured against the model's gradient scale.
    func check(
        _ model: LanguageModel, reduction: LossReduction = .tokenMean, sequences: [[Int32]] = BackwardFixtures.sequences,
        only kinds: Set<String>? = nil
    ) throws -> [String: Double] {
        Matmul.useSingleThreadedBLAS()
        var analytic: [Float] = []
        _ = try model.lossAndGradients(sequences, gradients: &analytic, reduction: reduction)
        let reference = BackwardFixtures.reference(model)
        let base = model.parameters.values.map(Double.init)
        var rng = SeededGenerator(seed: 31)
        var checks: [(kind: String, analytic: Double, numeric: Double)] = []
        var seen = Set<Int>()
        for (name, slice) in model.parameters.layout.names where seen.insert(slice.offset).inserted {
            let kind = name.split(separator: ".").suffix(2).joined(separator: ".")
            if let kinds, !kinds.contains(kind) { continue }
            for sample in 0..<Self.samples {
                // The embedding's first sample is forced onto a row that gets a gradient (the first input token).
                let index = slice == model.parameters.layout.embedding && sample == 0
                    ? slice.offset + Int(sequences[0][0]) * slice.shape[1] + 1
                    : slice.offset + Int(rng.next() % UInt64(slice.count))
                var plus = base, minus = base
                plus[index] += Self.step
                minus[index] -= Self.step
                let numeric = (reference.loss(plus, sequences, reduction: reduction)
                    - reference.loss(minus, sequences, reduction: reduction)) / (2 * Self.step)
                checks.append((kind, Double(analytic[index]), numeric))
            }
        }
        let scale = checks.map { abs($0.numeric) }.max()!
        var worst: [String: Double] = [:]
        for c in checks {
            let error = abs(c.analytic - c.numeric) / max(abs(c.numeric), 1e-3 * scale)
            worst[c.kind] = max(worst[c.kind] ?? 0, error)
        }
        return worst
    }

    @Test("untied model: every parameter kind matches finite differences")
    func untied() throws {
        let worst = try check(try BackwardFixtures.model(tied: false))
        print("untied max relative FD error:", worst.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.1e", $0.value))" })
        #expect(worst.count == 12)  // embedding, 3 norms, q/k/v/o, gate/up/down, lm_head
        for (kind, error) in worst { #expect(error < 1e-3, "\(kind): relative error \(error)") }
    }

    @Test("tied embeddings and q/k/v/o biases match finite differences")
    func tiedWithBiases() throws {
        let worst = try check(try BackwardFixtures.model(tied: true, biases: true, seed: 8))
        print("tied+bias max relative FD error:", worst.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.1e", $0.value))" })
        #expect(worst["q_proj.bias"] != nil && worst["o_proj.bias"] != nil && worst["lm_head.weight"] == nil)
        for (kind, error) in worst { #expect(error < 1e-3, "\(kind): relative error \(error)") }
    }

    /// Qwen3 normalises each head of q and k with one shared [hd] weight, OLMoE the whole projection (before RoPE).
    @Test("q/k RMSNorm per head (Qwen3) and over the whole projection (OLMoE) match finite differences", arguments: [false, true])
    func queryKeyNorms(wholeProjection: Bool) throws {
        let model = try BackwardFixtures.model(tied: true, biases: true, seed: 12, modelType: "qwen3", wholeProjectionNorms: wholeProjection)
        let expectedWidth = wholeProjection ? model.config.headCount * model.config.headDim : model.config.headDim
        #expect(model.parameters.layout.layers[0].qNorm?.shape == [expectedWidth])
        let worst = try check(model)
        print("q/k norm (\(wholeProjection ? "projection" : "head")) max relative FD error:", worst.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.1e", $0.value))" })
        #expect(worst["q_norm.weight"] != nil && worst["k_norm.weight"] != nil && worst["q_proj.bias"] != nil)
        for (kind, error) in worst { #expect(error < 1e-3, "\(kind): relative error \(error)") }
    }

    @Test("sequence-mean reduction matches finite differences")
    func sequenceMean() throws {
        let worst = try check(try BackwardFixtures.model(tied: false, seed: 3), reduction: .sequenceMean)
        for (kind, error) in worst { #expect(error < 1e-3, "\(kind): relative error \(error)") }
    }

    /// 150 tokens span two attention blocks of 128 query rows, and 153 rows take the row-/feature-split sgemm paths
    /// of `linearBackward` and the group-split attention backward when `Parallel.width > 1`.
    @Test("a sequence longer than one attention block matches finite differences")
    func multipleAttentionBlocks() throws {
        var rng = SeededGenerator(seed: 77)
        let long = (0..<150).map { _ in Int32(rng.next() % 40) }
        let worst = try check(
            try BackwardFixtures.model(tied: false, biases: true), sequences: [long, [5, 6, 7]],
            only: ["q_proj.weight", "k_proj.weight", "v_proj.weight", "k_proj.bias", "embed_tokens.weight", "lm_head.weight"])
        print("150-token max relative FD error:", worst.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.1e", $0.value))" })
        #expect(worst.count == 6)
        for (kind, error) in worst { #expect(error < 1e-3, "\(kind): relative error \(error)") }
    }

    @Test("∂L/∂a of every layer matches finite differences of the reference")
    func activationGradients() throws {
        Matmul.useSingleThreadedBLAS()
        let model = try BackwardFixtures.model(tied: false)
        let sequences = BackwardFixtures.sequences
        var captured: [Int: [Float]] = [:]
        _ = try model.lossAndActivationGradients(sequences) { captured[$0.layer] = Array($0.gradient) }
        #expect(captured.keys.sorted() == [0, 1])
        let reference = BackwardFixtures.reference(model)
        let parameters = model.parameters.values.map(Double.init)
        let F = model.config.intermediateSize, N = sequences.reduce(0) { $0 + $1.count }
        var rng = SeededGenerator(seed: 4)
        var worst = 0.0
        for layer in 0..<2 {
            let scale = Double(captured[layer]!.map { abs($0) }.max()!)
            for _ in 0..<12 {
                let row = Int(rng.next() % UInt64(N)), neuron = Int(rng.next() % UInt64(F))
                func loss(_ delta: Double) -> Double {
                    reference.loss(parameters, sequences, nudge: .init(layer: layer, row: row, neuron: neuron, delta: delta))
                }
                let numeric = (loss(Self.step) - loss(-Self.step)) / (2 * Self.step)
                let analytic = Double(captured[layer]![row * F + neuron])
                worst = max(worst, abs(analytic - numeric) / max(abs(numeric), 1e-3 * scale))
            }
        }
        print("∂L/∂a max relative FD error: \(String(format: "%.1e", worst))")
        #expect(worst < 1e-3)
        // lossAndGradients reports the same ∂L/∂a.
        var again: [Int: [Float]] = [:]
        var gradients: [Float] = []
        _ = try model.lossAndGradients(sequences, gradients: &gradients) { again[$0.layer] = Array($0.gradient) }
        #expect(again == captured)
    }

    @Test("parameters that cannot influence the loss get exactly zero gradient")
    func exactZeros() throws {
        Matmul.useSingleThreadedBLAS()
        let model = try BackwardFixtures.model(tied: false)
        var gradients: [Float] = []
        _ = try model.lossAndGradients(BackwardFixtures.sequences, gradients: &gradients)
        let embedding = model.parameters.layout.embedding, D = model.config.hiddenSize
        let used = Set(BackwardFixtures.sequences.flatMap { $0.dropLast() })
        for token in 0..<BackwardFixtures.vocabulary {
            let row = gradients[(embedding.offset + token * D)..<(embedding.offset + (token + 1) * D)]
            if used.contains(Int32(token)) {
                #expect(row.contains { $0 != 0 }, "token \(token) is used but has a zero gradient row")
            } else {
                // Never embedded (30…38), or only as a last token whose position predicts nothing (39).
                #expect(row.allSatisfy { $0 == 0 }, "token \(token): \(Array(row))")
            }
        }
        // The LM-head row of a token that is never a target still gets the softmax gradient; with targets from
        // 0..<30 and 39, rows 30…38 must be non-zero (probability mass only): a sanity check of the head path.
        let head = model.parameters.layout.lmHead
        #expect(gradients[(head.offset + 35 * D)..<(head.offset + 36 * D)].contains { $0 != 0 })
    }

    @Test("gradients accumulate across calls and the buffer size is checked")
    func accumulation() throws {
        Matmul.useSingleThreadedBLAS()
        let model = try BackwardFixtures.model(tied: true)
        let workspace = BackwardWorkspace(config: model.config, rows: 16, context: 8)
        var once: [Float] = []
        let first = try model.lossAndGradients(BackwardFixtures.sequences, gradients: &once, workspace: workspace)
        var twice = once
        let second = try model.lossAndGradients(BackwardFixtures.sequences, gradients: &twice, workspace: workspace)
        #expect(first == second)
        // Equal up to rounding (a tied table sums LM-head and embedding terms in a different order the second time).
        let scale = once.map(abs).max()!
        #expect(zip(once, twice).allSatisfy { abs($0.1 - 2 * $0.0) <= 1e-6 * scale })
        var wrong = [Float](repeating: 0, count: 3)
        #expect(throws: RuntimeError.self) { try model.lossAndGradients(BackwardFixtures.sequences, gradients: &wrong) }
        var fresh: [Float] = []
        #expect(throws: RuntimeError.self) { try model.lossAndGradients([[1]], gradients: &fresh) }
        let small = BackwardWorkspace(config: model.config, rows: 4, context: 8)
        #expect(throws: RuntimeError.contextOverflow(needed: 13, capacity: 4)) {
            try model.lossAndGradients(BackwardFixtures.sequences, gradients: &fresh, workspace: small)
        }
    }
}
