import Foundation
import Runtime
import TensorCore
import TestSupport
import Testing

/// SparseMixer-v2 (GRIN, arXiv 2409.12136; microsoft/SparseMixer `sparsemixer/sparsemixer_v2.py`, transformers
/// `models/phimoe/modeling_phimoe.py` `sparsemixer` / `MultiplierProcessor`) against a Double-precision reference
/// written here from those sources, independently of the kernels: forward weights, logit gradients, full parameter
/// gradients with the samples fixed, evaluation as plain top-2, determinism of the counter-based draws, the
/// unsupported configurations, and the sampling distribution.
@Suite("SparseMixer-v2 router estimator")
struct SparseMixerTests {
    /// One token's SparseMixer-v2 routing in Double: for each step the kept set, the masked softmax π, the sampled
    /// expert D, the step's argmax j* and the Heun multiplier c.
    struct Route {
        var kept: [[Bool]] = []
        var pi: [[Double]] = []
        var chosen: [Int] = []
        var best: [Int] = []
        var c: [Double] = []
        var weights: [Double] { (0..<2).map { c[$0] * pi[$0][chosen[$0]] } }
    }

    /// Upstream's multipliers: 0.3333 and 0.3333 + 0.6667 in float32.
    static let third = Double(Float(0.3333)), one = Double(Float(0.3333) + Float(0.6667))

    /// The reference routing of logits `z` with jitter ε; `uniform(slot)` is the row's uniform of draw `slot`, laid out
    /// as `SparseMixerDraws` documents (step s, expert j: s·(E + 1) + j; the Heun coin: s·(E + 1) + E).
    static func route(_ z: [Double], epsilon: Double, uniform: (Int) -> Double) -> Route {
        let E = z.count
        var r = Route()
        var excluded = -1
        for step in 0..<2 {
            let candidates = (0..<E).filter { $0 != excluded }
            let top = candidates.map { z[$0] }.max()!
            let best = candidates.first { z[$0] == top }!
            // Masked iff (z* − z_j) / max(|z_j|, z*) > 2ε: NaN (0/0) is not masked, as in PyTorch.
            let kept = (0..<E).map { j in j != excluded && !((top - z[j]) / max(abs(z[j]), top) > 2 * epsilon) }
            let numerators = (0..<E).map { kept[$0] ? exp(z[$0] - top) : 0 }
            let total = numerators.reduce(0, +)
            let pi = numerators.map { $0 / total }
            // Gumbel-max with e_j = −log u_j: argmax of z_j − log e_j over the kept experts.
            var chosen = -1
            var score = -Double.infinity
            for j in 0..<E where kept[j] {
                let s = z[j] - log(-log(uniform(step * (E + 1) + j)))
                if chosen < 0 || s > score { chosen = j; score = s }
            }
            let c = chosen == best || uniform(step * (E + 1) + E) > 0.75 ? one : third
            r.kept.append(kept); r.pi.append(pi); r.chosen.append(chosen); r.best.append(best); r.c.append(c)
            excluded = chosen
        }
        return r
    }

    /// A 2-layer random MoE model (`MoEBackwardTests.model`); families 0–2 are softmax → top-2 with linear routers.
    static func model(_ index: Int, seed: UInt64) throws -> LanguageModel {
        let family = MoEBackwardTests.families[index]
        return try MoEBackwardTests.model(family.fields, has: family.has, seed: seed)
    }

    static func mixtral(topK: Int) throws -> LanguageModel {
        try MoEBackwardTests.model(
            #""model_type": "mixtral", "intermediate_size": 6, "num_local_experts": 4, "num_experts_per_tok": \#(topK)"#,
            has: { !$0.hasSuffix("bias") && !$0.contains("_norm") }, seed: 3)
    }

    // MARK: - (a) forward weights and logit gradients of the kernel against the reference

    @Test("kernel: selection, weights c·π_D and dLogits equal the Double reference; masked experts get exactly 0")
    func kernelAgainstReference() {
        let E = 6, N = 400
        let epsilon: Float = 0.15
        var rng = SeededGenerator(seed: 11)
        let logits = (0..<(N * E)).map { _ in rng.nextFloat(scale: 2) }
        let dWeights = (0..<(N * 2)).map { _ in rng.nextFloat(scale: 1) }
        var selected = [Int32](repeating: 0, count: N * 2)
        var weights = [Float](repeating: 0, count: N * 2)
        var first = [Float](repeating: 0, count: N * E), second = first, dLogits = first
        let draws = SparseMixerDraws(seed: 5, pass: 9, layer: 1)
        selected.withUnsafeMutableBufferPointer { s in
            weights.withUnsafeMutableBufferPointer { w in
                first.withUnsafeMutableBufferPointer { f in
                    second.withUnsafeMutableBufferPointer { f2 in
                        logits.withUnsafeBufferPointer { z in
                            for n in 0..<N {
                                sparseMixerRoute(
                                    logits: z.baseAddress! + n * E, experts: E, epsilon: epsilon, draws: draws, row: n,
                                    selected: s.baseAddress! + n * 2, weights: w.baseAddress! + n * 2,
                                    first: f.baseAddress! + n * E, second: f2.baseAddress! + n * E)
                            }
                        }
                    }
                }
            }
        }
        sparseMixerLogitGradients(
            first: first, second: second, selected: selected, dWeights: dWeights, dLogits: &dLogits, rows: N, experts: E)

        var worstWeight = 0.0, worstGradient = 0.0, sampledOffArgmax = 0, thirds = 0, exactZeros = 0
        for n in 0..<N {
            let z = (0..<E).map { Double(logits[n * E + $0]) }
            let r = Self.route(z, epsilon: Double(epsilon)) { draws.uniform(row: n, slot: $0) }
            #expect(r.chosen.map(Int32.init) == Array(selected[(n * 2)..<(n * 2 + 2)]), "row \(n)")
            guard r.chosen.map(Int32.init) == Array(selected[(n * 2)..<(n * 2 + 2)]) else { continue }
            sampledOffArgmax += r.chosen[0] != r.best[0] ? 1 : 0
            thirds += r.c.filter { $0 == Self.third }.count
            for s in 0..<2 {
                // Float softmax of ≤ 6 terms with expf (≤ 1 ulp): relative error a few 1e-7; 2e-6 leaves margin.
                worstWeight = max(worstWeight, abs(Double(weights[n * 2 + s]) - r.weights[s]) / r.weights[s])
            }
            // dz_j = Σ_s G_s · π^s_D · (δ_{jD} − π^s_j), c excluded.
            var scale = 0.0
            for j in 0..<E {
                var expected = 0.0
                for s in 0..<2 {
                    let g = Double(dWeights[n * 2 + s]) * r.pi[s][r.chosen[s]]
                    expected += g * ((j == r.chosen[s] ? 1 : 0) - r.pi[s][j])
                    scale = max(scale, abs(g))
                }
                worstGradient = max(worstGradient, abs(Double(dLogits[n * E + j]) - expected) / max(scale, 1e-30))
                if r.pi[0][j] == 0 && r.pi[1][j] == 0 {
                    #expect(dLogits[n * E + j] == 0)
                    exactZeros += 1
                }
            }
        }
        print("SparseMixer kernel: max relative weight error \(worstWeight), max dLogits error / |G·π_D| \(worstGradient);"
            + " rows with D1 ≠ argmax \(sampledOffArgmax)/\(N), c = 1/3 in \(thirds)/\(2 * N) steps, \(exactZeros) exact zeros")
        #expect(worstWeight < 2e-6)
        // Each dz_j is two products of Float values with relative error ~1e-7 each: 1e-5 of |G·π_D| is generous.
        #expect(worstGradient < 1e-5)
        // The check covered the stochastic paths: samples off the argmax, both multipliers and masked experts.
        #expect(sampledOffArgmax > 10 && thirds > 10 && exactZeros > 10)
    }

    // MARK: - (a) full parameter gradients with the samples fixed

    /// The reference's SparseMixer routing with every decision frozen at the base parameters: the surrogate weight
    /// c·π_D(z₀) + π_D(z) − π_D(z₀) equals the forward weight at z₀ and has the estimator's gradient ∂π_D/∂z (c
    /// excluded, masks and samples constant), so central differences of the reference loss give exactly the
    /// gradient the estimator defines, for every parameter.
    final class FrozenRoutes {
        var routes: [[Int]: (route: Route, z: [Double])] = [:]
    }

    @Test("full parameter gradients equal central differences of the Double reference with the samples fixed",
          arguments: [0, 1, 2])
    func parameterGradients(family index: Int) throws {
        Matmul.useSingleThreadedBLAS()
        let model = try Self.model(index, seed: UInt64(70 + index))
        let options = SparseMixerOptions(jitterEpsilon: 0.3, seed: 1234, pass: 17)
        let decoder = model.decoder
        let parameters = ParameterBuffer(copying: model.parameters)
        let gradients = ParameterBuffer(layout: decoder.layout)
        let sequences = BackwardFixtures.sequences
        let N = sequences.reduce(0) { $0 + $1.count }
        let workspace = BackwardWorkspace(config: model.config, rows: N, context: 7)
        let loss = try decoder.lossAndGradients(
            sequences, parameters: parameters, gradients: gradients, estimator: .sparseMixer(options), workspace: workspace)

        let reference = BackwardFixtures.reference(model)
        let base = model.parameters.values.map(Double.init)
        let E = model.config.moe!.expertCount
        let frozen = FrozenRoutes()
        let baseLoss = reference.loss(base, sequences) { layer, row, z in
            let draws = SparseMixerDraws(seed: options.seed, pass: options.pass, layer: layer)
            let r = Self.route(z, epsilon: Double(options.jitterEpsilon)) { draws.uniform(row: row, slot: $0) }
            frozen.routes[[layer, row]] = (r, z)
            return (r.chosen, r.weights)
        }
        func maskedSoftmax(_ z: [Double], _ kept: [Bool]) -> [Double] {
            let top = (0..<E).filter { kept[$0] }.map { z[$0] }.max()!
            let numerators = (0..<E).map { kept[$0] ? exp(z[$0] - top) : 0 }
            let total = numerators.reduce(0, +)
            return numerators.map { $0 / total }
        }
        let surrogate: ([Double]) -> Double = { p in
            reference.loss(p, sequences) { layer, row, z in
                let (r, z0) = frozen.routes[[layer, row]]!
                let weights = (0..<2).map { s in
                    let d = r.chosen[s], at = maskedSoftmax(z, r.kept[s])[d], at0 = maskedSoftmax(z0, r.kept[s])[d]
                    return r.c[s] * at0 + (at - at0)
                }
                return (r.chosen, weights)
            }
        }

        // Forward: the runtime sampled the reference's experts and applied its weights.
        var offArgmax = 0, thirds = 0, worstWeight = 0.0
        for l in 0..<model.config.layerCount where model.config.isSparse(layer: l) {
            let a = workspace.forward.moe(l)
            for n in 0..<N {
                let (r, _) = frozen.routes[[l, n]]!
                #expect([Int(a.selected[2 * n]), Int(a.selected[2 * n + 1])] == r.chosen, "layer \(l) row \(n)")
                for s in 0..<2 { worstWeight = max(worstWeight, abs(Double(a.weights[2 * n + s]) - r.weights[s]) / r.weights[s]) }
                offArgmax += r.chosen[0] != r.best[0] ? 1 : 0
                thirds += r.c.filter { $0 == Self.third }.count
            }
        }
        // Float forward through two layers vs Double: relative error ~1e-6; 1e-4 as in the other reference tests.
        #expect(worstWeight < 1e-4)
        #expect(abs(Double(loss.crossEntropy) - baseLoss) <= 1e-5 * abs(baseLoss))
        #expect(offArgmax > 0 && thirds > 0, "the fixture should exercise sampling (\(offArgmax) off-argmax, \(thirds) thirds)")

        // Every parameter tensor, 4 random entries each (router entries: 8), against central differences.
        var rng = SeededGenerator(seed: 23)
        var worst: [String: Double] = [:]
        var seen = Set<Int>()
        for (name, slice) in model.parameters.layout.names where seen.insert(slice.offset).inserted {
            let isRouter = name.hasSuffix("gate.weight") && !name.contains("proj") && !name.contains("shared_expert_gate")
            let indices = (0..<(isRouter ? 8 : 4)).map { _ in slice.offset + Int(rng.next() % UInt64(slice.count)) }
            let kind = isRouter ? "router" : String(name.split(separator: ".").suffix(2).joined(separator: "."))
            let error = BackwardGradientTests.worstRelativeError(indices: indices, base: base, gradients: gradients, loss: surrogate)
            worst[kind] = max(worst[kind] ?? 0, error)
        }
        print("SparseMixer \(MoEBackwardTests.families[index].name): weight error \(worstWeight), \(offArgmax) rows off the argmax,"
            + " \(thirds) c = 1/3; max relative FD error:",
            worst.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.1e", $0.value))" })
        // Float32 gradients (relative ~1e-5) against Double central differences with step 1e-4 (truncation ~1e-8):
        // the bound every finite-difference test of the backward uses.
        #expect(worst["router"] != nil)
        for (kind, error) in worst { #expect(error < 1e-3, "\(kind): relative error \(error)") }

        // The check discriminates: differentiating the forward weight c·π_D(z) itself (c kept in the router
        // gradient) disagrees with the estimator on the router, by far more than the bound above.
        let scaled: ([Double]) -> Double = { p in
            reference.loss(p, sequences) { layer, row, z in
                let (r, _) = frozen.routes[[layer, row]]!
                return (r.chosen, (0..<2).map { s in r.c[s] * maskedSoftmax(z, r.kept[s])[r.chosen[s]] })
            }
        }
        var routerIndices: [Int] = []
        for layer in model.parameters.layout.layers {
            guard case .moe(let m) = layer.ffn else { continue }
            routerIndices += Array(m.router.offset..<(m.router.offset + m.router.count))
        }
        let withC = BackwardGradientTests.worstRelativeError(indices: routerIndices, base: base, gradients: gradients, loss: scaled)
        print("SparseMixer \(MoEBackwardTests.families[index].name): router vs d(c·π_D)/dθ, max relative difference \(withC)")
        #expect(withC > 1e-2)
    }

    // MARK: - (b) evaluation is plain top-2

    @Test("evaluation routes with plain top-2: logits are identical to a model that never trained with the estimator")
    func evaluationIsTopK() throws {
        Matmul.useSingleThreadedBLAS()
        let model = try Self.model(0, seed: 81)
        let untouched = LanguageModel(config: model.config, parameters: model.parameters)
        let sequences = BackwardFixtures.sequences
        let before = try sequences.map { try model.logits($0).values }
        let options = SparseMixerOptions(jitterEpsilon: 0.3, seed: 2, pass: 0)
        let N = sequences.reduce(0) { $0 + $1.count }
        let workspace = BackwardWorkspace(config: model.config, rows: N, context: 7)
        var sparse: [Float] = [], topK: [Float] = [], plain: [Float] = []
        _ = try model.lossAndGradients(sequences, gradients: &sparse, workspace: workspace, estimator: .sparseMixer(options))
        // The training pass did sample off the top-2 somewhere, so the comparison below is not vacuous.
        var differs = false
        for l in 0..<model.config.layerCount {
            let a = workspace.forward.moe(l)
            for n in 0..<N {
                let z = (0..<4).map { a.routerLogits[n * 4 + $0] }
                let order = z.indices.sorted { z[$0] > z[$1] || (z[$0] == z[$1] && $0 < $1) }
                if Int(a.selected[2 * n]) != order[0] || Int(a.selected[2 * n + 1]) != order[1] { differs = true }
            }
        }
        #expect(differs)
        for (s, logits) in sequences.enumerated() {
            #expect(try model.logits(logits).values == before[s])
            #expect(try untouched.logits(logits).values == before[s])
        }
        // The default estimator is today's top-K, bit for bit.
        let lossTopK = try model.lossAndGradients(sequences, gradients: &topK, estimator: .topK)
        let lossPlain = try model.lossAndGradients(sequences, gradients: &plain)
        #expect(lossTopK == lossPlain && topK == plain)
        #expect(sparse != plain)
    }

    // MARK: - (c) determinism of the counter-based draws

    @Test("same (seed, pass): bit-identical gradients; another pass or seed: another selection; rows route independently")
    func deterministic() throws {
        Matmul.useSingleThreadedBLAS()
        let model = try Self.model(1, seed: 82)
        let decoder = model.decoder
        let sequences = BackwardFixtures.sequences
        let N = sequences.reduce(0) { $0 + $1.count }
        func run(_ options: SparseMixerOptions) throws -> (loss: Float, gradients: [Float], selected: [Int32], workspace: BackwardWorkspace) {
            let parameters = ParameterBuffer(copying: model.parameters)
            let gradients = ParameterBuffer(layout: decoder.layout)
            let workspace = BackwardWorkspace(config: model.config, rows: N, context: 7)
            let loss = try decoder.lossAndGradients(
                sequences, parameters: parameters, gradients: gradients, estimator: .sparseMixer(options), workspace: workspace)
            let a = workspace.forward.moe(0)
            return (loss.total, gradients.snapshot().values, Array(UnsafeBufferPointer(start: a.selected, count: 2 * N)), workspace)
        }
        let options = SparseMixerOptions(jitterEpsilon: 0.3, seed: 77, pass: 4)
        let a = try run(options), b = try run(options)
        #expect(a.loss == b.loss && a.gradients == b.gradients && a.selected == b.selected)
        var next = options
        next.pass += 1
        let c = try run(next)
        #expect(c.selected != a.selected)
        var reseeded = options
        reseeded.seed += 1
        #expect(try run(reseeded).selected != a.selected)

        // Routing the layer's rows one at a time in reverse order (as any thread split would) gives the same bits.
        let layer = a.workspace.forward.moe(0)
        let draws = SparseMixerDraws(seed: options.seed, pass: options.pass, layer: 0)
        var selected = [Int32](repeating: 0, count: 2), weights = [Float](repeating: 0, count: 2)
        var first = [Float](repeating: 0, count: 4), second = first
        for n in stride(from: N - 1, through: 0, by: -1) {
            sparseMixerRoute(
                logits: layer.routerLogits + n * 4, experts: 4, epsilon: options.jitterEpsilon, draws: draws, row: n,
                selected: &selected, weights: &weights, first: &first, second: &second)
            #expect(selected == [layer.selected[2 * n], layer.selected[2 * n + 1]])
            #expect(weights == [layer.weights[2 * n], layer.weights[2 * n + 1]])
        }
        // Options survive a checkpoint round trip.
        let decoded = try JSONDecoder().decode(RouterEstimator.self, from: JSONEncoder().encode(RouterEstimator.sparseMixer(options)))
        #expect(decoded == .sparseMixer(options))
    }

    // MARK: - (d) unsupported configurations

    static func unsupportedMessage(_ model: LanguageModel, _ estimator: RouterEstimator) throws -> String? {
        let parameters = ParameterBuffer(copying: model.parameters)
        let gradients = ParameterBuffer(layout: model.decoder.layout)
        let workspace = BackwardWorkspace(config: model.config, rows: 13, context: 7)
        do {
            _ = try model.decoder.lossAndGradients(
                BackwardFixtures.sequences, parameters: parameters, gradients: gradients, estimator: estimator,
                workspace: workspace)
        } catch RuntimeError.unsupportedRouterEstimator(let message) {
            // Nothing ran: the gradients are untouched.
            #expect(gradients.snapshot().values.allSatisfy { $0 == 0 })
            var forwardMessage: String?
            do {
                try parameters.withUnsafeBufferPointer { w in
                    try model.decoder.trainingForward(
                        BackwardFixtures.sequences, parameters: w.baseAddress!, workspace: workspace.forward, estimator: estimator)
                }
            } catch RuntimeError.unsupportedRouterEstimator(let m) { forwardMessage = m }
            #expect(forwardMessage == message)
            var array: [Float] = []
            #expect(throws: RuntimeError.unsupportedRouterEstimator(message)) {
                try model.lossAndGradients(BackwardFixtures.sequences, gradients: &array, estimator: estimator)
            }
            return message
        }
        return nil
    }

    @Test("top-K → softmax routing, MLP gates, K ≠ 2, dense models and bad ε throw unsupportedRouterEstimator")
    func unsupported() throws {
        let estimator = RouterEstimator.sparseMixer(SparseMixerOptions())
        for index in [3, 4] {
            let family = MoEBackwardTests.families[index]
            let model = try MoEBackwardTests.model(family.fields, has: family.has, seed: 5)
            let message = try Self.unsupportedMessage(model, estimator)
            print("\(family.name): \(message ?? "no error")")
            #expect(message?.contains("llama_moe") == true && message?.contains("top-K → ") == true)
            #expect(message?.contains("softmax → top-K is required") == true)
        }
        for k in [1, 3] {
            let message = try Self.unsupportedMessage(try Self.mixtral(topK: k), estimator)
            #expect(message?.contains("\(k) experts per token (K = 2 is required)") == true, "\(message ?? "no error")")
        }
        // A softmax → top-2 model with an MLP gate.
        var config = try Self.mixtral(topK: 2).config
        config.moe!.gateNetwork = .mlp
        let layout = ParameterLayout(config: config) { !$0.hasSuffix("bias") && !$0.contains("_norm") }
        var parameters = ModelParameters(layout: layout)
        for i in parameters.values.indices { parameters.values[i] = Float(i % 7) * 0.01 }
        let mlp = try Self.unsupportedMessage(LanguageModel(config: config, parameters: parameters), estimator)
        #expect(mlp?.contains("MLP gate (a linear router is required)") == true, "\(mlp ?? "no error")")
        let dense = try Self.unsupportedMessage(try BackwardFixtures.model(tied: false), estimator)
        #expect(dense?.contains("has none") == true, "\(dense ?? "no error")")
        for epsilon in [-0.1, Float.nan] {
            let bad = try Self.unsupportedMessage(
                try Self.model(0, seed: 1), .sparseMixer(SparseMixerOptions(jitterEpsilon: epsilon)))
            #expect(bad?.contains("jitter epsilon") == true)
        }
        // Softmax → top-2 with either renormalize flag is supported.
        for index in [0, 1] { #expect(try Self.unsupportedMessage(try Self.model(index, seed: 1), estimator) == nil) }
    }

    // MARK: - (e) sampling distribution

    @Test("D1 ~ π, D2 ~ Σ_i π_i π'^(i), P(c1 = 1/3) = ¾(1 − π_{j*}): frequencies within binomial bounds")
    func samplingFrequencies() {
        let E = 8, N = 40_000
        let epsilon: Float = 0.25
        // Kept at step 1 (2ε = 0.5): (2 − z_j)/2 ≤ 0.5 ⇔ z_j ≥ 1, so experts 0–4 stay and 5–7 are masked.
        let z: [Float] = [2.0, 1.6, 1.1, 1.45, 1.0, 0.9, -0.5, -3.0]
        let zd = z.map(Double.init)
        let draws = SparseMixerDraws(seed: 99, pass: 3, layer: 2)
        var firstCounts = [Int](repeating: 0, count: E), secondCounts = firstCounts, thirds = 0
        var selected = [Int32](repeating: 0, count: 2), weights = [Float](repeating: 0, count: 2)
        var first = [Float](repeating: 0, count: E), second = first
        for n in 0..<N {
            sparseMixerRoute(
                logits: z, experts: E, epsilon: epsilon, draws: draws, row: n, selected: &selected, weights: &weights,
                first: &first, second: &second)
            firstCounts[Int(selected[0])] += 1
            secondCounts[Int(selected[1])] += 1
            // c1 = 1/3 exactly when the weight is 0.3333·π_D1.
            if weights[0] == sparseMixerHeunThird * first[Int(selected[0])] { thirds += 1 }
        }
        // The distributions from the reference's definitions: π over the step-1 kept set; given D1 = i, π'^(i) over the
        // step-2 kept set (D1 removed, mask relative to the best remaining logit).
        let uniformHalf: (Int) -> Double = { _ in 0.5 }
        let step1 = Self.route(zd, epsilon: Double(epsilon), uniform: uniformHalf).pi[0]
        var secondExpected = [Double](repeating: 0, count: E)
        for i in 0..<E where step1[i] > 0 {
            // Step 2 after D1 = i: the reference with expert i forced first (its draws make i win with u → 1 at slot i).
            let forced = Self.route(zd, epsilon: Double(epsilon)) { slot in slot == i ? 1 - 1e-16 : 0.5 }
            #expect(forced.chosen[0] == i)
            for j in 0..<E { secondExpected[j] += step1[i] * forced.pi[1][j] }
        }
        // Binomial counts: |count − Nq| ≤ 5·√(Nq(1 − q)) + 1 per cell; with ~20 cells the chance of a false alarm is
        // below 20 · 5.7e-7 ≈ 1e-5 (and the seed is fixed, so the outcome is deterministic).
        func within(_ count: Int, _ q: Double) -> Bool {
            abs(Double(count) - Double(N) * q) <= 5 * (Double(N) * q * (1 - q)).squareRoot() + 1
        }
        for j in 0..<E {
            #expect(within(firstCounts[j], step1[j]), "D1 = \(j): \(firstCounts[j]) vs \(Double(N) * step1[j])")
            #expect(within(secondCounts[j], secondExpected[j]), "D2 = \(j): \(secondCounts[j]) vs \(Double(N) * secondExpected[j])")
            if step1[j] == 0 { #expect(firstCounts[j] == 0) }
        }
        let pThird = 0.75 * (1 - step1[0])
        #expect(within(thirds, pThird), "c1 = 1/3: \(thirds) vs \(Double(N) * pThird)")
        #expect(step1.filter { $0 > 0 }.count == 5)
        print("SparseMixer sampling: D1 counts \(firstCounts) vs expected \(step1.map { Int((Double(N) * $0).rounded()) });"
            + " D2 counts \(secondCounts) vs \(secondExpected.map { Int((Double(N) * $0).rounded()) }); c1 = 1/3: \(thirds) vs \(Int(Double(N) * pThird))")
    }
}
