import Conversion
import Formats
import Foundation
import IOCore
import TensorCore

/// A loaded model for inference: a `Decoder` with immutable parameters (weights dequantised to F32).
///
/// Immutable, hence safe to share across threads; each thread passes its own `Workspace` and `KVCache`s (a call
/// without a workspace allocates one for that call). Training does not go through this type: a trainer owns its
/// `ParameterBuffer`s and drives the `Decoder` directly.
public final class LanguageModel: Sendable {
    public let config: ModelConfig
    public let parameters: ModelParameters
    /// The forward/backward computation over `parameters.layout`.
    public let decoder: Decoder

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
        decoder = Decoder(config: config, layout: parameters.layout)
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
    ///   - workspace: scratch to use; nil allocates one for this call (pass one in loops).
    /// - Throws: `RuntimeError` for an empty sequence, a token outside the vocabulary, a full cache or a workspace
    ///   too small.
    public func forward<R>(
        _ batch: [(tokens: [Int32], cache: KVCache)], logits: LogitRows = .all, workspace: Workspace? = nil,
        _ body: (UnsafeBufferPointer<Float>) throws -> R
    ) throws -> R {
        let ws = workspace ?? Workspace(
            config: config, rows: batch.reduce(0) { $0 + $1.tokens.count },
            context: batch.map { $0.cache.count + $0.tokens.count }.max() ?? 1)
        let outRows = try parameters.values.withUnsafeBufferPointer { w in
            try decoder.forward(batch, logits: logits, parameters: w.baseAddress!, workspace: ws)
        }
        return try body(UnsafeBufferPointer(start: ws.logits, count: outRows * config.vocabularySize))
    }

    /// Logits [T, V] of every position of `tokens` (a fresh sequence).
    public func logits(_ tokens: [Int32]) throws -> FloatTensor {
        let cache = makeCache(capacity: tokens.count)
        return try forward([(tokens, cache)], logits: .all) { FloatTensor(shape: [tokens.count, config.vocabularySize], values: Array($0)) }
    }
}
