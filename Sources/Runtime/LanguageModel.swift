import Foundation
import Formats
import TensorCore

/// A LLaMA-family decoder (dense, Mixtral, Qwen2-MoE, OLMoE-style or LLaMA-MoE) on the CPU, over one flat parameter
/// buffer. Port of the forward pass of transformers' `modeling_llama.py` / `modeling_mixtral.py` /
/// `modeling_qwen2_moe.py` and LLaMA-MoE's `modeling_llama_moe_hf.py`.
///
/// Every matrix product goes through BLAS over all tokens of a call (prefill), batched across sequences: the
/// linear layers see the N = Σ T rows of all sequences at once and attention runs per sequence against its own
/// `KVCache`. A `LanguageModel` is not safe for concurrent calls that share a workspace; give each thread its own
/// `Workspace`.
public final class LanguageModel: @unchecked Sendable {
    public let config: ModelConfig
    public let parameters: ModelParameters
    private var defaultWorkspace: Workspace?

    /// Which rows of logits a forward pass computes.
    public enum LogitRows: Sendable {
        /// Every position of every sequence: [N, V], sequences in order.
        case all
        /// The last position of each sequence: [S, V].
        case last
        /// None (fills caches only).
        case none
    }

    public init(config: ModelConfig, parameters: ModelParameters) {
        self.config = config
        self.parameters = parameters
    }

    /// Loads the parameters `config` names from `source`.
    public convenience init(config: ModelConfig, source: any WeightSource) throws {
        self.init(config: config, parameters: try ModelParameters(config: config, source: source))
    }

    /// Opens a GGUF file or a Hugging Face directory and loads its model (weights dequantised to F32).
    ///
    /// GGUF files and directories whose architecture has a conversion recipe go through `ModelSource` (which also
    /// yields the tokenizer); other HF directories (Mixtral, Qwen2-MoE, LLaMA-MoE) are read directly from
    /// `config.json` and their safetensors.
    /// - Returns: the model and the checkpoint's tokenizer, when it has one.
    public static func load(path: String, recipesDirectory: String? = nil) throws -> (model: LanguageModel, tokenizer: TokenizerData?) {
        do {
            let source = try ModelSource.open(path, recipesDirectory: recipesDirectory)
            let config = try ModelConfig(json: source.config)
            return (try LanguageModel(config: config, source: source), source.tokenizer)
        } catch {
            guard PathUtilities.isDirectory(path) else { throw error }
            let configPath = PathUtilities.join(path, "config.json")
            guard PathUtilities.exists(configPath) else { throw error }
            let json = try JSONParser.parse(try PathUtilities.readBytes(configPath))
            let config = try ModelConfig(json: json)
            let weights = SafetensorsWeights(try SafetensorsCheckpoint(path: path))
            return (try LanguageModel(config: config, source: weights), nil)
        }
    }

    /// An empty cache for up to `capacity` positions (default: `maxPositionEmbeddings`).
    public func makeCache(capacity: Int? = nil) -> KVCache {
        KVCache(layers: config.layerCount, width: config.kvHeadCount * config.headDim,
                capacity: capacity ?? config.maxPositionEmbeddings)
    }

    /// A workspace for calls of up to `rows` tokens and sequences of up to `context` positions.
    public func makeWorkspace(rows: Int, context: Int, keepActivations: Bool = false) -> Workspace {
        Workspace(config: config, rows: rows, context: context, keepActivations: keepActivations)
    }

    /// Runs the decoder on `batch`: each sequence's tokens are appended to its cache (positions continue from the
    /// cache's count) and the requested logits are passed to `body` as a [rows, V] buffer (valid only inside it).
    ///
    /// - Parameters:
    ///   - batch: sequences and their caches (distinct caches).
    ///   - logits: which rows to compute.
    ///   - workspace: scratch to use; nil uses (and grows) the model's own.
    /// - Throws: `RuntimeError` for an empty sequence, a token outside the vocabulary or a full cache.
    public func forward<R>(
        _ batch: [(tokens: [Int32], cache: KVCache)], logits: LogitRows = .all, workspace: Workspace? = nil,
        _ body: (UnsafeBufferPointer<Float>) throws -> R
    ) throws -> R {
        let N = batch.reduce(0) { $0 + $1.tokens.count }
        var maxContext = 0
        for (tokens, cache) in batch {
            guard !tokens.isEmpty else { throw RuntimeError.emptyInput("a sequence of the batch has no tokens") }
            guard cache.count + tokens.count <= cache.capacity else {
                throw RuntimeError.contextOverflow(needed: cache.count + tokens.count, capacity: cache.capacity)
            }
            for t in tokens where t < 0 || Int(t) >= config.vocabularySize {
                throw RuntimeError.tokenOutOfRange(token: t, vocabularySize: config.vocabularySize)
            }
            maxContext = max(maxContext, cache.count + tokens.count)
        }
        guard Set(batch.map { ObjectIdentifier($0.cache) }).count == batch.count else {
            throw RuntimeError.emptyInput("two sequences of a batch share one cache")
        }
        let ws: Workspace
        if let workspace {
            guard workspace.fits(rows: N, context: maxContext) else {
                throw RuntimeError.contextOverflow(needed: max(N, maxContext), capacity: min(workspace.rows, workspace.context))
            }
            ws = workspace
        } else if let existing = defaultWorkspace, existing.fits(rows: N, context: maxContext) {
            ws = existing
        } else {
            let old = defaultWorkspace
            ws = Workspace(
                config: config, rows: max(N, old?.rows ?? 0),
                context: min(max(maxContext, old?.context ?? 0, 256), max(maxContext, config.maxPositionEmbeddings)))
            defaultWorkspace = ws
        }
        let outRows = try parameters.values.withUnsafeBufferPointer { w in
            try run(batch, rows: N, logits: logits, w: w.baseAddress!, ws: ws)
        }
        return try body(UnsafeBufferPointer(start: ws.logits, count: outRows * config.vocabularySize))
    }

    /// Logits [T, V] of every position of `tokens` (a fresh sequence).
    public func logits(_ tokens: [Int32]) throws -> FloatTensor {
        let cache = makeCache(capacity: tokens.count)
        return try forward([(tokens, cache)], logits: .all) { FloatTensor(shape: [tokens.count, config.vocabularySize], values: Array($0)) }
    }

    // MARK: - The forward pass

    private func run(
        _ batch: [(tokens: [Int32], cache: KVCache)], rows N: Int, logits mode: LogitRows,
        w: UnsafePointer<Float>, ws: Workspace
    ) throws -> Int {
        let c = config, layout = parameters.layout
        let D = c.hiddenSize, H = c.headCount, Hkv = c.kvHeadCount, hd = c.headDim
        let qW = H * hd, kvW = Hkv * hd
        // Token ids and positions, sequences back to back.
        var row = 0
        for (tokens, cache) in batch {
            for (i, t) in tokens.enumerated() {
                ws.tokens[row + i] = t
                ws.positions[row + i] = Int32(cache.count + i)
            }
            row += tokens.count
        }
        embeddingForward(out: ws.residual(0), tokens: ws.tokens, count: N, table: w + layout.embedding.offset, width: D)

        for l in 0..<c.layerCount {
            let p = layout.layers[l]
            let x = ws.residual(2 * l)
            let mid = ws.residual(2 * l + 1)
            let next = ws.residual(2 * l + 2)
            // Attention block: mid = x + o(attention(rmsnorm(x))).
            let h = ws.norm1(l)
            rmsnormForward(out: h, reciprocalRMS: ws.rrms1(l), x: x, weight: w + p.inputNorm.offset, rows: N, width: D, eps: c.rmsNormEps)
            // q | k | v in one GEMM: the three weight matrices are adjacent in the parameter buffer.
            let qkvW = qW + 2 * kvW
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
            var start = 0
            for (tokens, cache) in batch {
                let T = tokens.count, P = cache.count
                let keys = cache.keys(layer: l), values = cache.values(layer: l)
                for i in 0..<T {
                    (keys + (P + i) * kvW).update(from: k + (start + i) * qkvW, count: kvW)
                    (values + (P + i) * kvW).update(from: v + (start + i) * qkvW, count: kvW)
                }
                attentionForward(
                    out: att + start * qW, q: q + start * qkvW, qStride: qkvW, keys: keys, values: values, rows: T,
                    start: P, heads: H, kvHeads: Hkv, headDim: hd, blockRows: Workspace.blockRows, scores: ws.scores)
                start += T
            }
            if mid != x { mid.update(from: x, count: N * D) }
            linearForward(out: mid, x: att, weight: w + p.o.offset, bias: p.oBias.map { w + $0.offset }, rows: N, inFeatures: qW, outFeatures: D, accumulate: true)

            // FFN block: next = mid + ffn(rmsnorm(mid)).
            let h2 = ws.norm2(l)
            rmsnormForward(out: h2, reciprocalRMS: ws.rrms2(l), x: mid, weight: w + p.postAttentionNorm.offset, rows: N, width: D, eps: c.rmsNormEps)
            if next != mid { next.update(from: mid, count: N * D) }
            switch p.ffn {
            case .dense(let f):
                feedForward(
                    out: next, x: h2, rows: N, width: D, p: f, weights: w, gateUp: ws.gateUp(l, width: f.width),
                    act: ws.act(l, width: f.width), accumulate: true)
            case .moe(let m):
                let moe = c.moe!
                moeRouterForward(
                    logits: ws.routerLogits(l), hidden: ws.routerHidden(l), probabilities: ws.routerProbabilities(l),
                    selected: ws.selected(l), weights: ws.routeWeights(l), x: h2, rows: N, width: D,
                    experts: moe.expertCount, perToken: moe.expertsPerToken, p: m, parameters: w, routing: moe.routing,
                    scale: moe.scoreScaleFactors[l])
                moeExpertsForward(
                    out: next, x: h2, rows: N, width: D, perToken: moe.expertsPerToken, selected: ws.selected(l),
                    weights: ws.routeWeights(l), p: m, parameters: w, scratch: ws.moe)
            }
        }
        for (tokens, cache) in batch { cache.advance(by: tokens.count) }

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
            for (i, item) in batch.enumerated() {
                end += item.tokens.count
                rmsnormForward(
                    out: ws.finalNorm + i * D, reciprocalRMS: ws.finalRRMS + i, x: last + (end - 1) * D,
                    weight: w + layout.finalNorm.offset, rows: 1, width: D, eps: c.rmsNormEps)
            }
            outRows = batch.count
        }
        linearForward(
            out: ws.logits, x: ws.finalNorm, weight: w + layout.lmHead.offset, bias: nil, rows: outRows, inFeatures: D,
            outFeatures: c.vocabularySize)
        return outRows
    }
}
