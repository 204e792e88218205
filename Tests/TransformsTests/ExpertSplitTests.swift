import Conversion
import TensorCore
import Testing
import Transforms

@Suite("Expert split (LLaMA-MoE)")
struct ExpertSplitTests {
    static let h = 16
    static let i = 48
    static let dense = Fixtures.dense(hidden: h, intermediate: i, seed: 31)
    static let x = Fixtures.tensor([10, h], seed: 32)

    /// Every non-sharing method for `n` experts.
    static func methods(_ n: Int) -> [SplitMethod] {
        let importance = (0..<n).map { Fixtures.tensor([i], seed: 100 + UInt64($0)).values.map(abs) }
        let activations = Fixtures.tensor([40, i], seed: 77)
        return [
            .random(seed: 1), .clustering(source: .up, seed: 2, maxIterations: 30),
            .clustering(source: .gate, seed: 3, maxIterations: 30), .gradient(importance: importance),
            .coactivation(activations: activations, kernel: .absolute),
            .coactivation(activations: activations, kernel: .plain),
        ]
    }

    @Test("K = N, unit weights, scale 1: every non-sharing split ≡ dense (partition identity)", arguments: [2, 4, 8])
    func unitWeightSplitIsExact(n: Int) throws {
        let reference = Fixtures.naive(Self.dense, Self.x)
        for method in Self.methods(n) {
            let moe = try ExpertSplit.split(
                Self.dense, options: SplitOptions(experts: n, topK: n, method: method, routing: .unitWeights))
            #expect(moe.experts.count == n)
            #expect(moe.experts.allSatisfy { $0.width == Self.i / n })
            #expect(Fixtures.maxAbsDiff(moe.forward(Self.x).values, reference) <= 1e-5, "\(method.name)")
        }
    }

    @Test(
        "rescale exact (zero router, K = N, softmax routings) ≡ dense, as a scale field and folded into down",
        arguments: [2, 4, 8])
    func exactRescale(n: Int) throws {
        let reference = Fixtures.naive(Self.dense, Self.x)
        for method in Self.methods(n) {
            for routing in [ExpertRouting.softmaxThenTopK(renormalize: true), .softmaxThenTopK(renormalize: false), .topKSoftmax, .unitWeights] {
                for fold in [false, true] {
                    let moe = try ExpertSplit.split(
                        Self.dense,
                        options: SplitOptions(
                            experts: n, topK: n, method: method, rescale: .exact, router: .zero, routing: routing,
                            foldScaleIntoDown: fold))
                    #expect(moe.scoreScale == (fold || routing == .unitWeights ? 1 : Float(n)))
                    #expect(Fixtures.maxAbsDiff(moe.forward(Self.x).values, reference) <= 1e-5)
                }
            }
        }
    }

    @Test("sharing-inter without routed sharing is a partition: K = N with unit weights ≡ dense")
    func sharingInterPartitionIsExact() throws {
        let reference = Fixtures.naive(Self.dense, Self.x)
        for (n, r) in [(2, 1), (5, 1), (3, 3)] {
            let m = Self.i / (n + r)
            let importance = (0..<n).map { Fixtures.tensor([Self.i], seed: 300 + UInt64($0)).values.map(abs) }
            for gate in [SharedGateInit.none, .neutral] {
                let moe = try ExpertSplit.split(
                    Self.dense,
                    options: SplitOptions(
                        experts: n, topK: n,
                        method: .sharingInter(importance: importance, sharedExperts: r, expertSize: m, shareRouted: false),
                        routing: .unitWeights, sharedGate: gate))
                #expect(moe.sharedExperts.count == r)
                #expect(Fixtures.coversOnce(moe.assignment! + moe.sharedAssignment!, Self.i))
                #expect(Fixtures.maxAbsDiff(moe.forward(Self.x).values, reference) <= 1e-5)
            }
        }
    }

    @Test("n-over-k: scoreScale = N/K, and folding it into down_proj gives the same outputs")
    func nOverKFolded() throws {
        for (n, k) in [(4, 2), (8, 2), (8, 1), (16, 4)] {
            let options = SplitOptions(experts: n, topK: k, method: .random(seed: 4), rescale: .nOverK, router: .random(seed: 8))
            let field = try ExpertSplit.split(Self.dense, options: options)
            #expect(field.scoreScale == Float(n) / Float(k))
            var foldedOptions = options
            foldedOptions.foldScaleIntoDown = true
            let folded = try ExpertSplit.split(Self.dense, options: foldedOptions)
            #expect(folded.scoreScale == 1 && folded.expertScales == nil)
            #expect(folded == field.foldingScaleIntoDown())
            // Independent: each folded down equals the unfolded down times N/K.
            for e in 0..<n {
                #expect(Fixtures.maxAbsDiff(folded.experts[e].down.values, field.experts[e].down.values.map { $0 * Float(n) / Float(k) }) == 0)
            }
            let a = field.forward(Self.x).values
            let b = folded.forward(Self.x).values
            #expect(Fixtures.maxAbsDiff(a, b) <= 1e-5)
        }
    }

    @Test("calibrated rescale: the MoE's mean per-token L1 norm equals the dense one on the calibration inputs")
    func calibratedRescale() throws {
        let calibration = Fixtures.tensor([64, Self.h], seed: 40)
        for (n, k) in [(4, 1), (4, 2), (8, 2)] {
            let moe = try ExpertSplit.split(
                Self.dense,
                options: SplitOptions(experts: n, topK: k, method: .random(seed: 2), rescale: .calibrated(inputs: calibration), router: .random(std: 0.3, seed: 1)))
            let denseOut = Fixtures.naive(Self.dense, calibration)
            let moeOut = moe.forward(calibration).values
            let l1Dense = denseOut.map(abs).reduce(0, +)
            let l1MoE = moeOut.map { Double(abs($0)) }.reduce(0, +)
            #expect(abs(l1MoE / l1Dense - 1) < 1e-4)
            #expect(moe.scoreScale > 1, "a top-\(k) of \(n) split loses output mass, so the factor grows")
        }
    }

    @Test("mean/variance alignment: per-channel mean and std of the MoE output match the dense FFN")
    func meanVarianceAlignment() throws {
        let calibration = Fixtures.tensor([80, Self.h], seed: 41)
        let moe = try ExpertSplit.split(
            Self.dense,
            options: SplitOptions(experts: 8, topK: 2, method: .random(seed: 3), rescale: .nOverK, router: .random(std: 0.3, seed: 2), alignment: calibration))
        #expect(moe.outputBias != nil)
        let d = Fixtures.naive(Self.dense, calibration)
        let m = moe.forward(calibration).values.map(Double.init)
        for c in 0..<Self.h {
            let dc = (0..<80).map { d[$0 * Self.h + c] }
            let mc = (0..<80).map { m[$0 * Self.h + c] }
            let (dm, ds) = Self.stats(dc)
            let (mm, ms) = Self.stats(mc)
            #expect(abs(dm - mm) < 1e-4 * max(1, ds))
            #expect(abs(ms / ds - 1) < 1e-3)
        }
    }

    @Test("router inits: zero, centroids of the expert's normalised rows, hidden means per label")
    func routerInits() throws {
        let moe = try ExpertSplit.split(
            Self.dense, options: SplitOptions(experts: 4, topK: 2, method: .random(seed: 1), router: .centroids(source: .gate)))
        for (e, neurons) in moe.assignment!.enumerated() {
            for c in 0..<Self.h {
                var s = 0.0
                for n in neurons {
                    let row = (0..<Self.h).map { Double(Self.dense.gate.values[n * Self.h + $0]) }
                    let norm = row.map { $0 * $0 }.reduce(0, +).squareRoot()
                    s += row[c] / norm
                }
                #expect(abs(Double(moe.router.values[e * Self.h + c]) - s / Double(neurons.count)) < 1e-5)
            }
        }
        let labels = [0, 1, 2, 3, 0, 1, 2, 3, 0, 0]
        let hidden = try ExpertSplit.split(
            Self.dense, options: SplitOptions(experts: 4, topK: 2, method: .random(seed: 1), router: .hidden(inputs: Self.x, labels: labels)))
        for e in 0..<4 {
            let rows = labels.indices.filter { labels[$0] == e }
            for c in 0..<Self.h {
                let mean = rows.map { Double(Self.x.values[$0 * Self.h + c]) }.reduce(0, +) / Double(rows.count)
                #expect(abs(Double(hidden.router.values[e * Self.h + c]) - mean) < 1e-6)
            }
        }
        let zero = try ExpertSplit.split(Self.dense, options: SplitOptions(experts: 4, topK: 2, method: .random(seed: 1), router: .zero))
        #expect(zero.router.values.allSatisfy { $0 == 0 })
    }

    @Test("split experts are exact slices: rows of gate/up and columns of down at the assigned neurons")
    func slicesAreExact() throws {
        let moe = try ExpertSplit.split(Self.dense, options: SplitOptions(experts: 4, topK: 2, method: .random(seed: 9)))
        for (e, neurons) in moe.assignment!.enumerated() {
            for (r, n) in neurons.enumerated() {
                for c in 0..<Self.h {
                    #expect(moe.experts[e].gate.values[r * Self.h + c] == Self.dense.gate.values[n * Self.h + c])
                    #expect(moe.experts[e].up.values[r * Self.h + c] == Self.dense.up.values[n * Self.h + c])
                    #expect(moe.experts[e].down.values[c * neurons.count + r] == Self.dense.down.values[c * Self.i + n])
                }
            }
        }
    }

    static func stats(_ v: [Double]) -> (Double, Double) {
        let m = v.reduce(0, +) / Double(v.count)
        return (m, (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count)).squareRoot())
    }
}
