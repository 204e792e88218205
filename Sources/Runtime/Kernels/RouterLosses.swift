import Foundation

// Auxiliary router losses of MoE training, value and logit gradient side by side:
// - load balancing, transformers' `load_balancing_loss_func` (Mixtral / Qwen2-MoE / OLMoE modeling files): pooled
//   over all MoE layers, L = E · Σ_e f_e · P_e with f_e the share of (token, k) assignments … summed over k, i.e.
//   count_e / (S·N), and P_e the mean full-softmax probability; balanced value K;
// - load balancing, megablocks / OLMo-core convention (`batched_load_balancing_loss`): per layer
//   L_l = (E/K) · Σ_e (count_e/N) · P_e, mean over layers; balanced value 1;
// - load balancing, LLaMA-MoE (`TopKBalancedNoisyGate`, pjlab-sys4nlp/llama-moe `smoe/modules/moe/moe_gates.py`,
//   without noise): per layer CV²(importance) + CV²(load), importance_e = Σ_t of the routing weights before the
//   score scale, load_e = count_e, CV²(v) = var(v) / (mean(v)² + 1e-10) with torch's unbiased var; summed over
//   layers; balanced value 0. Its gradient reaches the router through the routing weights;
// - router z-loss (Zoph et al. 2022, "ST-MoE", eq. 5): per layer mean over tokens of logsumexp(z)², mean over layers.
// f and the counts are piecewise constant (no gradient); P and z carry it: ∂L/∂p_{t,e} is a per-expert constant,
// turned into ∂L/∂z by the softmax Jacobian, dz = p ⊙ (dp − ⟨p, dp⟩).

/// Coefficients and convention of the auxiliary router losses added to the training loss.
public struct RouterLossOptions: Sendable, Equatable {
    /// How the load-balancing loss is normalised.
    public enum LoadBalancingStyle: String, Sendable, CaseIterable {
        /// transformers `load_balancing_loss_func`: pooled over layers, balanced value K.
        case hf
        /// megablocks / OLMo-core: per layer, balanced value 1, mean over layers.
        case megablocks
        /// LLaMA-MoE: CV²(importance) + CV²(load) per layer, summed over layers, balanced value 0.
        case llamaMoE = "llama-moe"
    }

    /// α: weight of the load-balancing loss (0: off).
    public var loadBalancing: Float
    public var loadBalancingStyle: LoadBalancingStyle
    /// β: weight of the router z-loss (0: off).
    public var zLoss: Float
    /// The expert load of the whole optimizer step (`--lb-scope step`, GRIN's global load balancing, arXiv
    /// 2409.12136 §3): when set, the assignment shares f of the load-balancing loss come from these counts, pooled
    /// over every micro-batch of the step, instead of from the micro-batch's own; P (which carries the gradient)
    /// stays the micro-batch's. nil: micro-batch scope.
    public var stepLoad: ExpertLoad?

    public init(loadBalancing: Float = 0, loadBalancingStyle: LoadBalancingStyle = .hf, zLoss: Float = 0) {
        self.loadBalancing = loadBalancing
        self.loadBalancingStyle = loadBalancingStyle
        self.zLoss = zLoss
    }

    /// Whether any auxiliary loss is on.
    public var isActive: Bool { loadBalancing != 0 || zLoss != 0 }
}

/// Expert assignments of a forward pass (or a sum of them): per MoE layer, in layer order, the (token, k) assignments
/// of each expert over `rows` rows that predict a token.
public struct ExpertLoad: Sendable, Equatable {
    /// counts[i][e]: assignments to expert e in the i-th MoE layer.
    public var counts: [[Double]]
    public var rows: Int

    public init(counts: [[Double]], rows: Int) {
        self.counts = counts
        self.rows = rows
    }

    /// The load of two passes together.
    public static func + (a: ExpertLoad, b: ExpertLoad) -> ExpertLoad {
        guard !a.counts.isEmpty else { return b }
        precondition(a.counts.count == b.counts.count, "expert loads of different models")
        return ExpertLoad(counts: zip(a.counts, b.counts).map { zip($0, $1).map { $0 + $1 } }, rows: a.rows + b.rows)
    }
}

/// Per-layer statistics of one forward pass that the auxiliary losses need. Only rows that predict a token count
/// (N = Σ_s (T_s − 1), the B·T targets of a batch of windows): the last position of each sequence is run through the
/// layers but predicts nothing, so it neither loads an expert nor adds to P or the z-loss.
struct RouterStatistics {
    /// N: rows that count (loss weight > 0).
    var rows = 0
    /// Sparse layers, in order.
    var layers: [Int] = []
    /// count[l][e]: (token, k) assignments to expert e in layer l.
    var counts: [[Double]] = []
    /// Σ_t p_{t,e} (full softmax of the router logits) per layer.
    var probabilitySums: [[Double]] = []
    /// Σ_t logsumexp(z_t)² per layer.
    var squaredLogSumExp: [Double] = []
    /// importance[l][e]: Σ_t of the routing weights (before the score scale) given to expert e.
    var importance: [[Double]] = []
}

/// CV²(v) = var(v) / (mean(v)² + 1e-10), var unbiased (torch's default), and its gradient ∂CV²/∂v.
func coefficientOfVariationSquared(_ v: [Double]) -> (value: Double, gradient: [Double]) {
    let n = Double(v.count)
    guard v.count > 1 else { return (0, [Double](repeating: 0, count: v.count)) }
    let mean = v.reduce(0, +) / n
    let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
    let denominator = mean * mean + 1e-10
    let gradient = v.map { x in 2 * (x - mean) / (n - 1) / denominator - variance * 2 * mean / n / (denominator * denominator) }
    return (variance / denominator, gradient)
}

/// Full softmax of router logits z [N, E] into p [N, E]; returns each row's logsumexp in `lse` [N].
func routerSoftmax(logits z: UnsafePointer<Float>, probabilities p: UnsafeMutablePointer<Float>, logSumExp lse: UnsafeMutablePointer<Float>, rows N: Int, experts E: Int) {
    for n in 0..<N {
        let row = z + n * E, out = p + n * E
        var top = row[0]
        for e in 1..<E { top = max(top, row[e]) }
        var sum: Double = 0
        for e in 0..<E {
            let v = exp(Double(row[e] - top))
            out[e] = Float(v)
            sum += v
        }
        for e in 0..<E { out[e] = Float(Double(out[e]) / sum) }
        lse[n] = top + Float(log(sum))
    }
}

extension RouterLossOptions {
    /// The unweighted load-balancing loss, its balanced value, and the z-loss, from `statistics` (N = `s.rows`).
    func values(_ s: RouterStatistics, experts E: Int, perToken K: Int) -> (loadBalancing: Double, balanced: Double, zLoss: Double) {
        let S = Double(s.layers.count), N = s.rows
        guard S > 0, N > 0 else { return (0, 0, 0) }
        var lb = 0.0, balanced = 0.0
        switch loadBalancingStyle {
        case .hf:
            let (counts, countRows) = loadCounts(s)
            for e in 0..<E {
                let f = counts.reduce(0) { $0 + $1[e] } / (S * Double(countRows))
                let p = s.probabilitySums.reduce(0) { $0 + $1[e] } / (S * Double(N))
                lb += Double(E) * f * p
            }
            balanced = Double(K)
        case .megablocks:
            let (counts, countRows) = loadCounts(s)
            for l in s.counts.indices {
                for e in 0..<E { lb += Double(E) / Double(K) * (counts[l][e] / Double(countRows)) * (s.probabilitySums[l][e] / Double(N)) }
            }
            lb /= S
            balanced = 1
        case .llamaMoE:
            let (counts, _) = loadCounts(s)
            for l in s.counts.indices {
                lb += coefficientOfVariationSquared(s.importance[l]).value + coefficientOfVariationSquared(counts[l]).value
            }
            balanced = 0
        }
        let z = s.squaredLogSumExp.reduce(0, +) / (S * Double(N))
        return (lb, balanced, z)
    }

    /// Adds ∂(α·LB + β·Z)/∂z of sparse layer `index` (position in `s.layers`) to dz [rows, E], from that layer's full
    /// softmax p [rows, E] and logsumexp [rows]; rows whose `rowWeights` entry is 0 do not count and get nothing.
    func addLogitGradients(
        _ s: RouterStatistics, layer index: Int, probabilities p: UnsafePointer<Float>, logSumExp lse: UnsafePointer<Float>,
        dLogits dz: UnsafeMutablePointer<Float>, rows: Int, rowWeights: UnsafePointer<Float>, experts E: Int, perToken K: Int
    ) {
        let S = Double(s.layers.count), N = s.rows
        guard N > 0 else { return }
        // ∂LB/∂p_{t,e}: the same for every token of the layer.
        var dp = [Float](repeating: 0, count: E)
        if loadBalancing != 0 && loadBalancingStyle != .llamaMoE {
            let (counts, countRows) = loadCounts(s)
            for e in 0..<E {
                switch loadBalancingStyle {
                case .hf:
                    let f = counts.reduce(0) { $0 + $1[e] } / (S * Double(countRows))
                    dp[e] = loadBalancing * Float(Double(E) * f / (S * Double(N)))
                case .megablocks:
                    dp[e] = loadBalancing * Float(Double(E) / Double(K) * (counts[index][e] / Double(countRows)) / Double(N) / S)
                case .llamaMoE:
                    break  // acts on the routing weights (`addWeightGradients`)
                }
            }
        }
        let zScale = zLoss * Float(2 / (S * Double(N)))
        for n in 0..<rows where rowWeights[n] > 0 {
            let prob = p + n * E, row = dz + n * E
            var inner: Float = 0
            for e in 0..<E { inner += prob[e] * dp[e] }
            // z-loss: ∂(lse²)/∂z_e = 2·lse·p_e.
            let zTerm = zScale * lse[n]
            for e in 0..<E { row[e] += prob[e] * (dp[e] - inner) + zTerm * prob[e] }
        }
    }

    /// The assignment counts f is computed from, and their row count: the step's (`stepLoad`) or the pass's own.
    func loadCounts(_ s: RouterStatistics) -> (counts: [[Double]], rows: Int) {
        guard let stepLoad, stepLoad.counts.count == s.counts.count, stepLoad.rows > 0 else { return (s.counts, s.rows) }
        return (stepLoad.counts, stepLoad.rows)
    }

    /// LLaMA-MoE's balance loss acts on the routing weights: adds α · ∂CV²(importance)/∂importance_e, divided by the
    /// score scale the weights carry, to dWeights [rows, K] of sparse layer `index` (rows that count only).
    func addWeightGradients(
        _ s: RouterStatistics, layer index: Int, selected: UnsafePointer<Int32>, dWeights: UnsafeMutablePointer<Float>,
        rows: Int, rowWeights: UnsafePointer<Float>, perToken K: Int, weightScale: Float
    ) {
        guard loadBalancing != 0, loadBalancingStyle == .llamaMoE, weightScale != 0 else { return }
        let gradient = coefficientOfVariationSquared(s.importance[index]).gradient
        for n in 0..<rows where rowWeights[n] > 0 {
            for k in 0..<K { dWeights[n * K + k] += loadBalancing * Float(gradient[Int(selected[n * K + k])]) / weightScale }
        }
    }
}
