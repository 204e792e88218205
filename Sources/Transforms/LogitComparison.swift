import Foundation
import IOCore
import TensorCore

/// `moekit verify`'s numbers: two models' logits on the same tokens.
public struct LogitComparison: Sendable {
    public var tokens: Int
    public var maxAbsDelta: Double
    public var meanAbsDelta: Double
    /// Mean over positions of KL(dense ‖ moe) of the next-token distributions.
    public var klDenseMoE: Double
    public var top1Agreement: Double
    public var perplexityDense: Double
    public var perplexityMoE: Double
    /// Largest |dense logit|, the scale for the relative exactness check.
    public var maxAbsDenseLogit: Double

    /// Whether a manifest describes a transform that is exact by construction: its `exact_by_construction` field
    /// (`MoEModelWriter.isExactByConstruction`), or for older Mixtral-only manifests upcycling without drop or noise,
    /// or a split with K = N and `exact` rescaling.
    public static func exactByConstruction(manifest: JSONValue?) -> Bool {
        guard let manifest, let operation = manifest["operation"]?.stringValue else { return false }
        if let recorded = manifest["exact_by_construction"]?.boolValue { return recorded }
        // Manifests written before the writer recorded it (Mixtral target only).
        switch operation {
        case "upcycle":
            return (manifest["drop_ratio"]?.doubleValue ?? 1) == 0 && (manifest["noise"]?.doubleValue ?? 1) == 0
        case "split":
            return manifest["rescale"]?.stringValue == "exact" && manifest["top_k"] == manifest["experts"]
        default:
            return false
        }
    }

    /// max |Δlogit| ≤ 1e-4 · max |dense logit| (the 1e-4 relative criterion).
    public var withinRelativeTolerance: Bool { maxAbsDelta <= 1e-4 * max(maxAbsDenseLogit, 1) }

    /// Compares logits [T, V]; perplexity uses positions 0..<T-1 predicting `ids[1...]`.
    public init(dense: FloatTensor, moe: FloatTensor, ids: [Int32]) {
        let T = dense.shape[0], V = dense.shape[1]
        var maxDense = 0.0
        for v in dense.values { maxDense = max(maxDense, abs(Double(v))) }
        maxAbsDenseLogit = maxDense
        var maxDelta = 0.0, sumDelta = 0.0, kl = 0.0, agree = 0, nllD = 0.0, nllM = 0.0
        for t in 0..<T {
            let d = dense.values[(t * V)..<((t + 1) * V)], m = moe.values[(t * V)..<((t + 1) * V)]
            var maxD = -Double.infinity, maxM = -Double.infinity, argD = 0, argM = 0
            for (i, (a, b)) in zip(d, m).enumerated() {
                let delta = abs(Double(a) - Double(b))
                maxDelta = max(maxDelta, delta)
                sumDelta += delta
                if Double(a) > maxD { maxD = Double(a); argD = i }
                if Double(b) > maxM { maxM = Double(b); argM = i }
            }
            if argD == argM { agree += 1 }
            var zD = 0.0, zM = 0.0
            for (a, b) in zip(d, m) { zD += exp(Double(a) - maxD); zM += exp(Double(b) - maxM) }
            let lzD = log(zD) + maxD, lzM = log(zM) + maxM
            var klT = 0.0
            for (a, b) in zip(d, m) {
                let lp = Double(a) - lzD, lq = Double(b) - lzM
                klT += exp(lp) * (lp - lq)
            }
            kl += klT
            if t + 1 < ids.count {
                let next = Int(ids[t + 1])
                nllD -= Double(d[d.startIndex + next]) - lzD
                nllM -= Double(m[m.startIndex + next]) - lzM
            }
        }
        tokens = T
        maxAbsDelta = maxDelta
        meanAbsDelta = sumDelta / Double(max(1, T * V))
        klDenseMoE = kl / Double(max(1, T))
        top1Agreement = Double(agree) / Double(max(1, T))
        let predicted = Double(max(1, T - 1))
        perplexityDense = exp(nllD / predicted)
        perplexityMoE = exp(nllM / predicted)
    }
}
