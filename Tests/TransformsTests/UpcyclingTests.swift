import Conversion
import TensorCore
import Testing
import Transforms

@Suite("Sparse upcycling")
struct UpcyclingTests {
    static let dense = Fixtures.dense(hidden: 16, intermediate: 48, seed: 21)
    static let x = Fixtures.tensor([12, 16], seed: 22)

    static func routers(copies: Int) -> [RouterInit] {
        let labels = (0..<12).map { $0 % copies }
        return [.random(seed: 5), .random(std: 1, seed: 6), .zero, .centroids(source: .up), .centroids(source: .gate),
                .hidden(inputs: x, labels: labels)]
    }

    @Test(
        "identical experts + renormalised top-k ≡ dense for any router (Σ p_e = 1)",
        arguments: [(2, 1), (2, 2), (4, 1), (4, 2), (4, 4), (8, 2), (8, 3)])
    func identicalExpertsAreExact(n: Int, k: Int) throws {
        let reference = Fixtures.naive(Self.dense, Self.x)
        for router in Self.routers(copies: n) {
            for routing in [ExpertRouting.softmaxThenTopK(renormalize: true), .topKSoftmax] {
                let moe = try SparseUpcycling.upcycle(
                    Self.dense, options: UpcycleOptions(experts: n, topK: k, router: router, routing: routing))
                #expect(moe.experts.count == n)
                #expect(moe.experts.allSatisfy { $0 == Self.dense.asExpert })
                #expect(Fixtures.maxAbsDiff(moe.forward(Self.x).values, reference) <= 1e-5, "\(router.name) \(routing)")
            }
        }
    }

    @Test("random router is N(0, 0.02) and deterministic per seed")
    func randomRouterStatistics() throws {
        let big = Fixtures.dense(hidden: 256, intermediate: 8, seed: 1)
        let a = try SparseUpcycling.upcycle(big, options: UpcycleOptions(experts: 8, topK: 2, router: .random(seed: 3)))
        let b = try SparseUpcycling.upcycle(big, options: UpcycleOptions(experts: 8, topK: 2, router: .random(seed: 3)))
        let c = try SparseUpcycling.upcycle(big, options: UpcycleOptions(experts: 8, topK: 2, router: .random(seed: 4)))
        #expect(a.router == b.router)
        #expect(a.router != c.router)
        let v = a.router.values.map(Double.init)
        let mean = v.reduce(0, +) / Double(v.count)
        let std = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)).squareRoot()
        #expect(abs(mean) < 0.002)
        #expect(abs(std - 0.02) < 0.002)
    }

    @Test(
        "granularity G: router rows replicated G times, renormalised routing ≡ dense (G | K)",
        arguments: [(4, 2, 2), (4, 2, 4), (8, 4, 4), (8, 2, 6), (6, 3, 3)])
    func granularityRenormalised(n: Int, g: Int, k: Int) throws {
        let reference = Fixtures.naive(Self.dense, Self.x)
        for router in Self.routers(copies: n / g) {
            for routing in [ExpertRouting.softmaxThenTopK(renormalize: true), .topKSoftmax] {
                let moe = try SparseUpcycling.upcycle(
                    Self.dense,
                    options: UpcycleOptions(experts: n, topK: k, router: router, routing: routing, granularity: g))
                #expect(moe.experts.allSatisfy { $0.width == 48 / g })
                for j in 0..<n {
                    let base = (j / g) * g
                    #expect(moe.router.values[(j * 16)..<(j * 16 + 16)] == moe.router.values[(base * 16)..<(base * 16 + 16)])
                }
                #expect(Fixtures.maxAbsDiff(moe.forward(Self.x).values, reference) <= 1e-5, "\(router.name)")
            }
        }
    }

    /// Megatron-LM `megatron/core/transformer/moe/upcycling_utils.py` (arXiv 2410.07524): before scaling,
    /// renormalised top-k gives MLP/G; softmax without renormalisation and
    /// uniform probabilities 1/(RG) with K shards selected gives K/(R·G²)·MLP. Scaling by s = G resp. R·G²/K
    /// restores the MLP.
    @Test("virtual-group invariant: unscaled output is MLP/G (renormalised) or K/(R·G²)·MLP (pre-softmax, uniform)")
    func virtualGroupInvariant() throws {
        let reference = Fixtures.naive(Self.dense, Self.x)
        for (n, g, k) in [(4, 2, 2), (8, 4, 4), (8, 2, 4), (6, 3, 3)] {
            let r = n / g
            // Renormalised, random router.
            let s1 = VirtualGroupScaling.factor(copies: r, granularity: g, topK: k, routing: .softmaxThenTopK(renormalize: true))
            #expect(s1 == Float(g))
            var moe = try SparseUpcycling.upcycle(
                Self.dense, options: UpcycleOptions(experts: n, topK: k, router: .random(std: 1, seed: 9), granularity: g))
            #expect(Fixtures.maxAbsDiff(moe.forward(Self.x).values, reference) <= 1e-5)
            moe.scoreScale = 1 / s1
            #expect(Fixtures.maxAbsDiff(moe.forward(Self.x).values, reference.map { $0 / Double(g) }) <= 1e-5)
            // Pre-softmax without renormalisation, zero router (uniform 1/(RG)).
            let pre = ExpertRouting.softmaxThenTopK(renormalize: false)
            let s2 = VirtualGroupScaling.factor(copies: r, granularity: g, topK: k, routing: pre)
            #expect(s2 == Float(r * g * g) / Float(k))
            var flat = try SparseUpcycling.upcycle(
                Self.dense, options: UpcycleOptions(experts: n, topK: k, router: .zero, routing: pre, granularity: g))
            #expect(Fixtures.maxAbsDiff(flat.forward(Self.x).values, reference) <= 1e-5)
            flat.scoreScale = 1 / s2
            let expected = reference.map { $0 * Double(k) / Double(r * g * g) }
            #expect(Fixtures.maxAbsDiff(flat.forward(Self.x).values, expected) <= 1e-5)
        }
    }

    @Test("shared experts (with and without a neutral sigmoid gate) keep the function", arguments: [(4, 2, 1, 1), (4, 2, 2, 2), (8, 2, 2, 4)])
    func sharedExperts(n: Int, k: Int, g: Int, s: Int) throws {
        let reference = Fixtures.naive(Self.dense, Self.x)
        for gate in [SharedGateInit.none, .neutral] {
            let moe = try SparseUpcycling.upcycle(
                Self.dense,
                options: UpcycleOptions(
                    experts: n, topK: k, router: .random(std: 0.5, seed: 2), granularity: g, sharedExperts: s,
                    sharedGate: gate))
            #expect(moe.sharedExperts.count == s)
            #expect((moe.sharedGate != nil) == (gate == .neutral))
            #expect(Fixtures.maxAbsDiff(moe.forward(Self.x).values, reference) <= 1e-5)
        }
    }

    @Test("Drop-Upcycling: ⌊r·I⌋ re-initialised neurons per expert, one set for gate/up/down, others bit-identical")
    func dropUpcycling() throws {
        let h = 32
        let i = 64
        let dense = try DenseFFN(
            gate: Fixtures.tensor([i, h], seed: 1, scale: 0.5, offset: 0.3),
            up: Fixtures.tensor([i, h], seed: 2, scale: 0.2, offset: -0.1),
            down: Fixtures.tensor([h, i], seed: 3, scale: 0.8, offset: 0.05))
        for ratio in [0.25, 0.5, 0.3] {
            let moe = try SparseUpcycling.upcycle(
                dense, options: UpcycleOptions(experts: 4, topK: 2, dropRatio: ratio, seed: 11))
            let expectedCount = Int((ratio * Double(i)).rounded(.down))
            var sets = [Set<Int>]()
            for expert in moe.experts {
                let gateRows = Set((0..<i).filter { n in (0..<h).contains { expert.gate.values[n * h + $0] != dense.gate.values[n * h + $0] } })
                let upRows = Set((0..<i).filter { n in (0..<h).contains { expert.up.values[n * h + $0] != dense.up.values[n * h + $0] } })
                let downCols = Set((0..<i).filter { n in (0..<h).contains { expert.down.values[$0 * i + n] != dense.down.values[$0 * i + n] } })
                #expect(gateRows.count == expectedCount)
                #expect(gateRows == upRows)
                #expect(gateRows == downCols)
                // Untouched neurons are bit-identical: every row outside the set equals the dense row exactly.
                for n in 0..<i where !gateRows.contains(n) {
                    #expect((0..<h).allSatisfy { expert.gate.values[n * h + $0].bitPattern == dense.gate.values[n * h + $0].bitPattern })
                    #expect((0..<h).allSatisfy { expert.up.values[n * h + $0].bitPattern == dense.up.values[n * h + $0].bitPattern })
                    #expect((0..<h).allSatisfy { expert.down.values[$0 * i + n].bitPattern == dense.down.values[$0 * i + n].bitPattern })
                }
                sets.append(gateRows)
                // Re-initialised values follow the statistics of the replaced values.
                let rows = gateRows.sorted()
                Self.checkStatistics("gate", new: Self.rowValues(expert.gate, rows), old: Self.rowValues(dense.gate, rows))
                Self.checkStatistics("up", new: Self.rowValues(expert.up, rows), old: Self.rowValues(dense.up, rows))
                Self.checkStatistics("down", new: Self.columnValues(expert.down, rows), old: Self.columnValues(dense.down, rows))
            }
            #expect(Set(sets).count == sets.count, "drop sets differ across experts")
            // Same seed → same result; the public drop-set helper names exactly these positions.
            #expect(sets[2] == Set(DropUpcycling.dropSet(expert: 2, width: i, ratio: ratio, seed: 11)))
        }
        let none = try SparseUpcycling.upcycle(dense, options: UpcycleOptions(experts: 4, topK: 2, dropRatio: 0, seed: 11))
        #expect(none.experts.allSatisfy { $0 == dense.asExpert })
    }

    @Test("noise σ perturbs every routed weight with N(0, σ²), differently per expert")
    func noise() throws {
        let dense = Fixtures.dense(hidden: 32, intermediate: 64, seed: 4)
        let moe = try SparseUpcycling.upcycle(dense, options: UpcycleOptions(experts: 2, topK: 1, noise: 0.01, seed: 3))
        for expert in moe.experts {
            let diff = zip(expert.gate.values, dense.gate.values).map { Double($0 - $1) }
            let (m, s) = Self.stats(diff.map(Float.init))
            #expect(abs(m) < 0.001)
            #expect(abs(s - 0.01) < 0.001)
        }
        #expect(moe.experts[0] != moe.experts[1])
    }

    static func rowValues(_ m: FloatTensor, _ rows: [Int]) -> [Float] {
        let c = m.shape[1]
        return rows.flatMap { r in Array(m.values[(r * c)..<(r * c + c)]) }
    }

    static func columnValues(_ m: FloatTensor, _ columns: [Int]) -> [Float] {
        let (r, c) = (m.shape[0], m.shape[1])
        return (0..<r).flatMap { row in columns.map { m.values[row * c + $0] } }
    }

    static func checkStatistics(_ name: String, new: [Float], old: [Float]) {
        let (m1, s1) = stats(new)
        let (m0, s0) = stats(old)
        #expect(abs(m1 - m0) < 0.2 * s0, "\(name) mean \(m1) vs \(m0)")
        #expect(abs(s1 / s0 - 1) < 0.15, "\(name) std \(s1) vs \(s0)")
    }

    static func stats(_ v: [Float]) -> (Double, Double) {
        let d = v.map(Double.init)
        let m = d.reduce(0, +) / Double(d.count)
        let s = (d.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(d.count)).squareRoot()
        return (m, s)
    }
}
