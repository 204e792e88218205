import Foundation
import Runtime
import TensorCore
import TestSupport
import Testing
import Training

/// `--lb-scope step` (GRIN's global load balancing) and frozen parameter groups, on the tiny Mixtral of
/// `TinyMoETrainingTests`.
@Suite("Load-balancing scope and frozen groups")
struct LoadBalancingScopeTests {
    /// Loss and gradients of `halves` as micro-batches (averaged) with `stepLoad` pooled over both, and of their union
    /// as one pass. With step scope f is the union's, P is each half's and averages to the union's, so the two agree
    /// up to float rounding; with micro scope they differ.
    static func compare(style: RouterLossOptions.LoadBalancingStyle, stepScope: Bool) throws -> (loss: Double, gradient: Double) {
        Matmul.useSingleThreadedBLAS()
        let model = try TinyMoETrainingTests.model(seed: 3)
        let decoder = model.decoder
        let parameters = ParameterBuffer(copying: model.parameters)
        let halves = [TinyMoETrainingTests.sequences(count: 4, seed: 21), TinyMoETrainingTests.sequences(count: 4, seed: 22)]
        let workspace = BackwardWorkspace(config: model.config, rows: 8 * 16, context: 16)
        let options = RouterLossOptions(loadBalancing: 0.5, loadBalancingStyle: style, zLoss: 0.01)

        let union = ParameterBuffer(layout: decoder.layout)
        let whole = try decoder.lossAndGradients(
            halves[0] + halves[1], parameters: parameters, gradients: union, routerLosses: options, workspace: workspace)

        var scoped = options
        if stepScope {
            scoped.stepLoad = try halves.map { try decoder.expertLoad($0, parameters: parameters, workspace: workspace) }.reduce(ExpertLoad(counts: [], rows: 0), +)
        }
        let split = ParameterBuffer(layout: decoder.layout)
        var loss = 0.0
        for half in halves {
            loss += Double(try decoder.lossAndGradients(half, parameters: parameters, gradients: split, routerLosses: scoped, workspace: workspace).total) / 2
        }
        var worst = 0.0, largest = 0.0
        union.withUnsafeBufferPointer { u in
            split.withUnsafeBufferPointer { s in
                for i in 0..<u.count {
                    worst = max(worst, abs(Double(u[i]) - Double(s[i]) / 2))
                    largest = max(largest, abs(Double(u[i])))
                }
            }
        }
        return (abs(loss - Double(whole.total)) / Double(whole.total), worst / largest)
    }

    @Test("step scope: micro-batches with the step's pooled load equal one pass over their union (loss and gradients)",
          arguments: [RouterLossOptions.LoadBalancingStyle.hf, .megablocks])
    func stepScopeEqualsUnion(style: RouterLossOptions.LoadBalancingStyle) throws {
        let step = try Self.compare(style: style, stepScope: true)
        // Float32 sums over 8·16 rows of different order: relative rounding well below 1e-5.
        #expect(step.loss < 1e-5 && step.gradient < 1e-5, "\(style) step scope: \(step)")
        let micro = try Self.compare(style: style, stepScope: false)
        // The same check must fail without pooling: each half's f differs from the union's.
        #expect(micro.loss > 1e-4 || micro.gradient > 1e-4, "\(style) micro scope unexpectedly equals the union: \(micro)")
    }

    @Test("a frozen group's gradient entries stay zero; the trained groups' gradients equal the full pass's bit for bit",
          arguments: ["router", "experts", "non-expert", "router+experts"])
    func frozenGroups(spelling: String) throws {
        Matmul.useSingleThreadedBLAS()
        let trainable = try #require(TrainableParameters(spelling: spelling))
        let model = try TinyMoETrainingTests.model(seed: 5)
        let decoder = model.decoder
        let parameters = ParameterBuffer(copying: model.parameters)
        let sequences = TinyMoETrainingTests.sequences(count: 4, seed: 8)
        let workspace = BackwardWorkspace(config: model.config, rows: 4 * 16, context: 16)
        let options = RouterLossOptions(loadBalancing: 0.1, zLoss: 0.01)
        let full = ParameterBuffer(layout: decoder.layout)
        let fullLoss = try decoder.lossAndGradients(sequences, parameters: parameters, gradients: full, routerLosses: options, workspace: workspace)
        let partial = ParameterBuffer(layout: decoder.layout)
        let partialLoss = try decoder.lossAndGradients(
            sequences, parameters: parameters, gradients: partial, routerLosses: options, trainable: trainable, workspace: workspace)
        #expect(partialLoss == fullLoss)
        var groupsSeen = Set<Int>()
        for (name, slice, group) in decoder.layout.parameterGroups {
            groupsSeen.insert(group.rawValue)
            let f = full.values(of: slice), p = partial.values(of: slice)
            if trainable.contains(group) {
                #expect(p.elementsEqual(f), "\(spelling): \(name) differs from the full pass")
            } else {
                #expect(p.allSatisfy { $0 == 0 } && f.contains { $0 != 0 }, "\(spelling): \(name) (frozen) was written")
            }
        }
        #expect(groupsSeen == [1, 2, 4])
        #expect(TrainableParameters(spelling: trainable.description) == trainable)
    }
}
