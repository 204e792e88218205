import Conversion
import Foundation
import TensorCore

/// Block construction: each sparse layer's MoE block built from its dense FFN for the target (routing, folded
/// scales, shared experts), one layer at a time.
extension MoEModelWriter {
    /// The dense FFN of layer `l`, decoded to Float; the mapped pages are released after decoding, so resident
    /// memory stays bounded by the layer in flight.
    func dense(_ l: Int) throws -> DenseFFN {
        func matrix(_ role: ArchitectureRecipe.MoERole) throws -> FloatTensor {
            try source.floats(denseName(l, role), releasingPages: true)
        }
        return try DenseFFN(gate: try matrix(.denseGate), up: try matrix(.denseUp), down: try matrix(.denseDown))
    }

    /// Layer `l`'s partition; only clustering decodes the weights to plan it.
    func partition(_ l: Int, _ options: SplitOptions, dense ffn: DenseFFN?) throws -> NeuronPartition {
        let method = splitMethod(options.method, layer: l)
        if case .clustering = method { return try NeuronPartition.make(for: try ffn ?? dense(l), experts: options.experts, method: method) }
        return try NeuronPartition.make(neurons: intermediate, experts: options.experts, method: method)
    }

    /// Per-layer seed: distinct streams for distinct layers.
    static func layerSeed(_ seed: UInt64, _ l: Int) -> UInt64 { seed &+ UInt64(l) &* 0x9E37_79B9_7F4A_7C15 }

    static func layerRouter(_ router: RouterInit, _ l: Int) -> RouterInit {
        if case let .random(std, seed) = router { return .random(std: std, seed: layerSeed(seed, l)) }
        return router
    }

    /// The routing a split is built for: unit weights where the target can express them and the split is the exact
    /// K = N one, else the target's routing.
    func routing(for options: SplitOptions) -> ExpertRouting {
        if options.rescale == .exact, target.canExpressUnitWeights { return .unitWeights }
        return target.routing
    }

    /// Builds layer `l`'s MoE block for the target: routing set to the target's, expert scales folded into down
    /// (and the score scale too unless the target keeps it as a field), shared experts concatenated into one
    /// (a zero one when the target requires a shared expert), a neutral shared-expert gate (sigmoid = 1/2, see
    /// `SharedGateInit.neutralValue`) with the ×2 folded in.
    func moe(_ l: Int) throws -> MoEFFN {
        guard let construction = layerPlans[l].construction else { preconditionFailure("layer \(l) is dense") }
        let ffn = try dense(l)
        var block: MoEFFN
        switch construction {
        case .upcycle(var o):
            o.seed = Self.layerSeed(o.seed, l)
            o.router = Self.layerRouter(o.router, l)
            o.routing = target.routing
            o.sharedGate = target.hasSharedExpertGate ? .neutral : .none
            block = try SparseUpcycling.upcycle(ffn, options: o)
        case .split(var o):
            o.router = Self.layerRouter(o.router, l)
            o.routing = routing(for: o)
            o.sharedGate = target.hasSharedExpertGate ? .neutral : .none
            o.foldScaleIntoDown = false
            let partition = try partitions[l] ?? partition(l, o, dense: ffn)
            block = try ExpertSplit.build(ffn, partition: partition, options: o)
        }
        if target.keepsScoreScale {
            let scale = block.scoreScale
            block.scoreScale = 1
            if block.expertScales != nil { block = block.foldingScaleIntoDown() }
            block.scoreScale = scale
        } else if block.scoreScale != 1 || block.expertScales != nil {
            block = block.foldingScaleIntoDown()
        }
        if target.hasSharedExpert {
            if block.sharedExperts.count > 1 {
                block.sharedExperts = [SparseUpcycling.concatenate(block.sharedExperts, hiddenSize: hidden)]
            } else if block.sharedExperts.isEmpty, sharedWidth > 0 {
                block.sharedExperts = [Expert(
                    unchecked: FloatTensor(zeros: [sharedWidth, hidden]), up: FloatTensor(zeros: [sharedWidth, hidden]),
                    down: FloatTensor(zeros: [hidden, sharedWidth]))]
            }
            if target.hasSharedExpertGate, block.sharedGate == nil { block.sharedGate = SharedGateInit.neutralGate(hiddenSize: hidden) }
        }
        return block
    }

    func splitMethod(_ method: SplitMethod, layer l: Int) -> SplitMethod {
        switch method {
        case .random(let seed): return .random(seed: Self.layerSeed(seed, l))
        case let .clustering(src, seed, iterations): return .clustering(source: src, seed: Self.layerSeed(seed, l), maxIterations: iterations)
        default: return method
        }
    }

    /// The routed-output factor of layer `l` as the target stores it (1 for dense layers).
    func scoreScale(_ l: Int) -> Double {
        guard case .split(let o)? = layerPlans[l].construction else { return 1 }
        switch o.rescale {
        case .nOverK: return Double(o.experts) / Double(o.topK)
        case .exact: return routing(for: o) == .unitWeights ? 1 : Double(o.experts)
        default: return 1
        }
    }

    /// One layer's MoE block, computed on first use and kept until the next layer is asked for.
    final class LayerCache {
        var layer = -1
        var block: MoEFFN?
        /// The byte gather of `gatherLayer` (nil when that layer has none), and buffers reused across tensors.
        private var gatherLayer = -1
        private var gathered: MoEModelWriter.LayerGather?
        let scratch = GatherScratch()

        /// Layer `l`'s byte gather, decided once per layer; the previous layer's mapped pages are released when a
        /// new layer starts.
        func gather(_ l: Int, writer: MoEModelWriter) throws -> MoEModelWriter.LayerGather? {
            if gatherLayer != l {
                gathered?.dropPages()
                gathered = nil
                gatherLayer = l
                gathered = try writer.gather(l)
            }
            return gathered
        }
    }
}
