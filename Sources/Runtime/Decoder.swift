import Foundation
import TensorCore

/// The computation of a LLaMA-family decoder (dense, Mixtral, Qwen2-MoE, OLMoE, Qwen3-MoE or LLaMA-MoE style) for
/// one configuration, over a flat parameter buffer the caller owns: the forward pass for inference (sequences
/// continue from their KV caches) and for training (sequences from position 0, no caches, every activation kept),
/// and the backward pass. Port of the forward of transformers' `modeling_llama.py` / `modeling_mixtral.py` /
/// `modeling_qwen2_moe.py` / `modeling_qwen3.py` and LLaMA-MoE's `modeling_llama_moe_hf.py`.
///
/// A `Decoder` holds no parameters and no scratch: an optimizer owns the parameter, gradient and moment buffers
/// (`ParameterBuffer`) and updates them in place between passes; scratch lives in a caller-owned `Workspace`.
///
/// Every matrix product goes through BLAS over all tokens of a call, batched across sequences: the linear layers
/// see the N = Σ T rows of all sequences at once and attention runs per sequence.
public struct Decoder: Sendable {
    public let config: ModelConfig
    public let layout: ParameterLayout

    public init(config: ModelConfig, layout: ParameterLayout) {
        self.config = config
        self.layout = layout
    }

    /// Where attention reads keys and values.
    enum KeyValueSource {
        /// Each sequence's cache: new rows are appended, positions continue from the cache's count.
        case caches([KVCache])
        /// The k and v columns of the fused projection: every sequence starts at position 0 (training).
        case projection
    }

    /// Checks that every token is in the vocabulary and returns N = Σ T.
    func checkTokens(_ sequences: [[Int32]]) throws -> Int {
        var N = 0
        for tokens in sequences {
            guard !tokens.isEmpty else { throw RuntimeError.emptyInput("a sequence of the batch has no tokens") }
            for t in tokens where t < 0 || Int(t) >= config.vocabularySize {
                throw RuntimeError.tokenOutOfRange(token: t, vocabularySize: config.vocabularySize)
            }
            N += tokens.count
        }
        return N
    }

    /// Inference forward: runs `batch`, appending each sequence's keys and values to its cache, and computes the
    /// requested logits into `workspace` (`Workspace.logits`, [rows, V]).
    /// - Returns: the number of logit rows.
    /// - Throws: `RuntimeError` for an empty sequence, a token outside the vocabulary, a full cache, two sequences
    ///   sharing a cache, or a workspace too small.
    func forward(
        _ batch: [(tokens: [Int32], cache: KVCache)], logits mode: LanguageModel.LogitRows,
        parameters w: UnsafePointer<Float>, workspace ws: Workspace
    ) throws -> Int {
        let N = try checkTokens(batch.map(\.tokens))
        var maxContext = 0
        for (tokens, cache) in batch {
            guard cache.count + tokens.count <= cache.capacity else {
                throw RuntimeError.contextOverflow(needed: cache.count + tokens.count, capacity: cache.capacity)
            }
            maxContext = max(maxContext, cache.count + tokens.count)
        }
        guard Set(batch.map { ObjectIdentifier($0.cache) }).count == batch.count else {
            throw RuntimeError.emptyInput("two sequences of a batch share one cache")
        }
        try checkFits(ws, rows: N, context: maxContext)
        let outRows = run(
            batch.map { ($0.tokens, $0.cache.count) }, keyValues: .caches(batch.map(\.cache)), logits: mode, w: w, ws: ws)
        for (tokens, cache) in batch { cache.advance(by: tokens.count) }
        return outRows
    }

    /// Training forward: every sequence starts at position 0, attention reads keys and values straight from the
    /// fused projection (no KV cache is written), and every layer's activations stay in `workspace` for a backward
    /// pass. No logits are computed (the fused LM head + cross-entropy of the backward does that).
    /// `estimator` picks the MoE layers' routing (`.sparseMixer` samples its experts; see `RouterEstimator`).
    /// - Throws: as `forward`, `RuntimeError.unsupported` when `workspace` does not keep activations, and
    ///   `RuntimeError.unsupportedRouterEstimator` when `estimator` is not defined for this model.
    public func trainingForward(
        _ sequences: [[Int32]], parameters: UnsafePointer<Float>, workspace ws: Workspace, estimator: RouterEstimator = .topK
    ) throws {
        try estimator.check(config)
        guard ws.keepActivations else {
            throw RuntimeError.unsupported("a training forward needs a workspace that keeps activations")
        }
        let N = try checkTokens(sequences)
        try checkFits(ws, rows: N, context: sequences.map(\.count).max() ?? 0)
        _ = run(sequences.map { ($0, 0) }, keyValues: .projection, logits: .none, w: parameters, ws: ws, estimator: estimator)
    }

    func checkFits(_ ws: Workspace, rows N: Int, context: Int) throws {
        guard ws.fits(rows: N, context: context) else {
            throw RuntimeError.contextOverflow(needed: max(N, context), capacity: min(ws.rows, ws.context))
        }
    }

    // MARK: - The forward pass

    /// The layers over `segments` (tokens and first position of each sequence), back to back in the rows of `ws`.
    /// Returns the number of logit rows computed. `estimator` routes the MoE layers of a training forward (inference
    /// passes keep `.topK`).
    func run(
        _ segments: [(tokens: [Int32], start: Int)], keyValues: KeyValueSource, logits mode: LanguageModel.LogitRows,
        w: UnsafePointer<Float>, ws: Workspace, estimator: RouterEstimator = .topK
    ) -> Int {
        let c = config
        let D = c.hiddenSize, H = c.headCount, Hkv = c.kvHeadCount, hd = c.headDim
        let qW = H * hd, kvW = Hkv * hd, qkvW = qW + 2 * kvW
        var N = 0
        for (tokens, start) in segments {
            for (i, t) in tokens.enumerated() {
                ws.tokens[N + i] = t
                ws.positions[N + i] = Int32(start + i)
            }
            N += tokens.count
        }
        embeddingForward(out: ws.residual(0), tokens: ws.tokens, count: N, table: w + layout.embedding.offset, width: D)

        for l in 0..<c.layerCount {
            let p = layout.layers[l]
            let x = ws.residual(2 * l)
            let mid = ws.residual(2 * l + 1)
            let next = ws.residual(2 * l + 2)
            // Attention block: mid = x + o(attention(rope(norm(qkv(rmsnorm(x)))))).
            let h = ws.norm1(l)
            rmsnormForward(out: h, reciprocalRMS: ws.rrms1(l), x: x, weight: w + p.inputNorm.offset, rows: N, width: D, eps: c.rmsNormEps)
            // q | k | v in one GEMM: the three weight matrices are adjacent in the parameter buffer.
            let qkv = ws.qkv(l)
            precondition(p.k.offset == p.q.offset + p.q.count && p.v.offset == p.k.offset + p.k.count)
            linearForward(out: qkv, x: h, weight: w + p.q.offset, bias: nil, rows: N, inFeatures: D, outFeatures: qkvW)
            if let bias = p.qBias { addBias(qkv, w + bias.offset, rows: N, width: qW, stride: qkvW) }
            if let bias = p.kBias { addBias(qkv + qW, w + bias.offset, rows: N, width: kvW, stride: qkvW) }
            if let bias = p.vBias { addBias(qkv + qW + kvW, w + bias.offset, rows: N, width: kvW, stride: qkvW) }
            let q = qkv, k = qkv + qW, v = qkv + qW + kvW
            let perHead = c.queryKeyNorm == .head
            if let qNorm = p.qNorm {
                groupedRMSNormForward(
                    x: q, saved: ws.queryKeyPreNorm(l), reciprocalRMS: ws.queryKeyRRMS(l), weight: w + qNorm.offset, rows: N,
                    groups: perHead ? H : 1, groupWidth: perHead ? hd : qW, stride: qkvW, eps: c.rmsNormEps)
            }
            if let kNorm = p.kNorm {
                groupedRMSNormForward(
                    x: k, saved: ws.queryKeyPreNorm(l) + N * qW, reciprocalRMS: ws.queryKeyRRMS(l) + N * H,
                    weight: w + kNorm.offset, rows: N, groups: perHead ? Hkv : 1, groupWidth: perHead ? hd : kvW,
                    stride: qkvW, eps: c.rmsNormEps)
            }
            ropeForward(x: q, rows: N, heads: H, headDim: hd, positions: ws.positions, cos: ws.ropeCos, sin: ws.ropeSin, stride: qkvW)
            ropeForward(x: k, rows: N, heads: Hkv, headDim: hd, positions: ws.positions, cos: ws.ropeCos, sin: ws.ropeSin, stride: qkvW)
            let att = ws.attention(l)
            var row = 0
            for (s, (tokens, start)) in segments.enumerated() {
                let T = tokens.count
                switch keyValues {
                case .caches(let caches):
                    let keys = caches[s].keys(layer: l), values = caches[s].values(layer: l)
                    for i in 0..<T {
                        (keys + (start + i) * kvW).update(from: k + (row + i) * qkvW, count: kvW)
                        (values + (start + i) * kvW).update(from: v + (row + i) * qkvW, count: kvW)
                    }
                    attentionForward(
                        out: att + row * qW, q: q + row * qkvW, qStride: qkvW, keys: keys, values: values, kvStride: kvW,
                        rows: T, start: start, heads: H, kvHeads: Hkv, headDim: hd, blockRows: Workspace.blockRows,
                        scores: ws.scores)
                case .projection:
                    attentionForward(
                        out: att + row * qW, q: q + row * qkvW, qStride: qkvW, keys: k + row * qkvW, values: v + row * qkvW,
                        kvStride: qkvW, rows: T, start: 0, heads: H, kvHeads: Hkv, headDim: hd,
                        blockRows: Workspace.blockRows, scores: ws.scores)
                }
                row += T
            }
            if mid != x { mid.update(from: x, count: N * D) }
            linearForward(out: mid, x: att, weight: w + p.o.offset, bias: p.oBias.map { w + $0.offset }, rows: N, inFeatures: qW, outFeatures: D, accumulate: true)

            // FFN block: next = mid + ffn(rmsnorm(mid)).
            let h2 = ws.norm2(l)
            rmsnormForward(out: h2, reciprocalRMS: ws.rrms2(l), x: mid, weight: w + p.postAttentionNorm.offset, rows: N, width: D, eps: c.rmsNormEps)
            if next != mid { next.update(from: mid, count: N * D) }
            ffnForward(layer: l, out: next, x: h2, rows: N, w: w, ws: ws, estimator: estimator)
        }

        // Final norm and LM head over the requested rows.
        let last = ws.residual(2 * c.layerCount)
        var outRows = 0
        switch mode {
        case .none:
            return 0
        case .all:
            outRows = N
            rmsnormForward(out: ws.finalNorm, reciprocalRMS: ws.finalRRMS, x: last, weight: w + layout.finalNorm.offset, rows: N, width: D, eps: c.rmsNormEps)
        case .last:
            var end = 0
            for (i, segment) in segments.enumerated() {
                end += segment.tokens.count
                rmsnormForward(
                    out: ws.finalNorm + i * D, reciprocalRMS: ws.finalRRMS + i, x: last + (end - 1) * D,
                    weight: w + layout.finalNorm.offset, rows: 1, width: D, eps: c.rmsNormEps)
            }
            outRows = segments.count
        }
        linearForward(
            out: ws.logits, x: ws.finalNorm, weight: w + layout.lmHead.offset, bias: nil, rows: outRows, inFeatures: D,
            outFeatures: c.vocabularySize)
        return outRows
    }

    /// Layer `l`'s FFN (dense SwiGLU, or router + experts) on x [N, D], accumulated into `out`; its activations stay
    /// in the layer's slot of `ws`.
    func ffnForward(
        layer l: Int, out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows N: Int, w: UnsafePointer<Float>, ws: Workspace,
        estimator: RouterEstimator = .topK
    ) {
        let D = config.hiddenSize
        switch layout.layers[l].ffn {
        case .dense(let f):
            feedForward(out: out, x: x, rows: N, width: D, p: f, weights: w, gateUp: ws.gateUp(l), act: ws.act(l), accumulate: true)
        case .moe(let m):
            let moe = config.moe!
            let a = ws.moe(l)
            switch estimator {
            case .topK:
                routerForward(
                    a, x: x, rows: N, width: D, experts: moe.expertCount, perToken: moe.expertsPerToken, p: m, parameters: w,
                    routing: moe.routing, scale: moe.scoreScaleFactors[l])
            case .sparseMixer(let options):
                sparseMixerForward(
                    a, x: x, rows: N, width: D, experts: moe.expertCount, p: m, parameters: w, options: options, layer: l)
            }
            expertsForward(a, out: out, x: x, rows: N, width: D, perToken: moe.expertsPerToken, p: m, parameters: w)
        }
    }
}
