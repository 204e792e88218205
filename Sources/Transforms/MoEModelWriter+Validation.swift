import Foundation
import TensorCore

/// Plan validation: what `init` checks across layers before anything is computed or written.
extension MoEModelWriter {
    /// Checks N, K, expert widths and shared widths across the sparse layers against each other and the target, and
    /// the divisibility each construction needs; with `deferring`, construction problems go to `problems`.
    func validateLayers(_ sparse: [(Int, MoEConstruction)], deferring: Bool) throws {
        let (firstLayer, first) = sparse[0]
        func fail(_ error: any Error) throws {
            if deferring { problems.append(error) } else { throw error }
        }
        expertWidth = first.expertWidth(intermediate: intermediate)
        sharedWidth = sparse.map { $0.1.sharedWidth(intermediate: intermediate) }.max() ?? 0
        for (l, c) in sparse {
            for (field, a, b) in [("number of experts", first.experts, c.experts), ("top-k", first.topK, c.topK),
                                  ("expert width", expertWidth, c.expertWidth(intermediate: intermediate))] where a != b {
                throw MoEWriterError.inconsistentLayers(field: field + " (layer \(firstLayer))", first: "\(a)", layer: l, found: "\(b)")
            }
            let shared = c.sharedWidth(intermediate: intermediate)
            if shared > 0, !target.hasSharedExpert {
                let option = if case .split = c { "--method sharing-inter (shared experts)" } else { "--shared-experts" }
                throw MoEWriterError.unsupportedByTarget(target.name, option: option, reason: "the layout has no shared expert")
            }
            if shared > 0, shared != sharedWidth {
                throw MoEWriterError.inconsistentLayers(field: "shared expert width", first: "\(sharedWidth)", layer: l, found: "\(shared)")
            }
            do {
                try Validate.topK(c.topK, experts: c.experts)
                let width = c.expertWidth(intermediate: intermediate)
                guard width >= 1 else {
                    let (option, value): (String, Int) = switch c {
                    case .upcycle(let o): ("granularity", o.granularity)
                    case .split(let o):
                        switch o.method {
                        case .sharingInner, .sharingInter: ("expert-size", width)
                        default: ("experts", o.experts)
                        }
                    }
                    throw TransformError.invalidParameter(
                        name: option, value: "\(value)",
                        reason: "every expert needs at least one neuron, but d_ff = \(intermediate) gives experts of width \(width)")
                }
                switch c {
                case .upcycle(let o):
                    guard o.granularity >= 1, intermediate % o.granularity == 0 else {
                        throw TransformError.indivisible(neurons: intermediate, experts: o.granularity, method: "upcycle --granularity")
                    }
                    guard o.experts % o.granularity == 0 else {
                        throw TransformError.invalidParameter(name: "granularity", value: "\(o.granularity)", reason: "must divide the number of experts \(o.experts)")
                    }
                case .split(let o):
                    switch o.method {
                    case .sharingInner, .sharingInter: break
                    default:
                        if intermediate % o.experts != 0 {
                            throw TransformError.indivisible(neurons: intermediate, experts: o.experts, method: o.method.name)
                        }
                    }
                }
            } catch {
                try fail(error)
            }
        }
        if target.hasSharedExpert, target.moe.sharedExpertRequired, sharedWidth == 0 { sharedWidth = expertWidth }
    }
}
