import Conversion
import Foundation
import IOCore
import Runtime
import TensorCore

/// Converts a dense LLaMA model (any `ModelSource`) into an MoE checkpoint in a target recipe's layout (mixtral,
/// qwen2-moe, olmoe, llama-moe), one layer at a time: only the current layer's dense FFN and MoE block are in memory.
///
/// Each layer has a plan (`MoELayerPlan`): keep the dense MLP, or build an MoE block by upcycling or splitting.
/// Everything that can be checked is checked in `init`, before anything is written. The target decides the
/// routing the blocks are built for (`MoETarget.routing`; a construction's own `routing` is replaced), whether the
/// routed-output factor stays a config field or is folded into `down_proj`, and whether shared experts, dense layers
/// and unequal expert widths can be expressed. HF output is a safetensors directory; GGUF output is streamed straight
/// from the blocks (no intermediate HF directory).
public final class MoEModelWriter {
    public enum Format: String, Sendable, CaseIterable { case safetensors, gguf }

    public let source: ModelSource
    public let target: MoETarget
    public var recipe: ArchitectureRecipe { target.recipe }
    /// One plan per layer.
    public let layerPlans: [MoELayerPlan]
    /// N and K of every sparse layer.
    public let experts: Int
    public let topK: Int
    public let dtype: DType
    public let format: Format
    /// Extra manifest fields (command line, seed, …).
    public let manifestFields: JSONObject
    /// Problems found by validation; with `deferValidation` they are listed by `plan()` and thrown by `write`.
    public internal(set) var problems: [any Error] = []
    /// Whether routed experts that are exact gathers of the dense FFN are written by copying (or converting) the
    /// source's rows and columns directly (`gather(_:)`); false forces the general `Float` path. Both give the same bytes.
    public var usesSourceGathers = true
    let library: RecipeLibrary
    let preTokenizers: PreTokenizerTable

    let layers: Int
    let hidden: Int
    let intermediate: Int
    /// Width of every routed expert, and of the one shared expert (0 when the output has none).
    public internal(set) var expertWidth = 0
    public internal(set) var sharedWidth = 0

    /// Validates everything that can be checked before writing: the target, the source, the per-layer plans
    /// against the target's capabilities, N/K/widths across layers, divisibility and the target's tensor shapes.
    ///
    /// - Parameter deferValidation: collect construction problems (divisibility, K > N, shapes) in `problems`
    ///   instead of throwing them (for dry runs); `write` still refuses to start while there are any.
    /// - Throws: `MoEWriterError` / `TransformError` / `ConversionError` naming the field or option.
    public init(
        source: ModelSource, library: RecipeLibrary, preTokenizers: PreTokenizerTable, target: String,
        layers layerPlans: [MoELayerPlan], dtype: DType, format: Format, manifestFields: JSONObject,
        deferValidation: Bool = false
    ) throws {
        self.target = try MoETarget(name: target, library: library)
        if format == .gguf, let reason = self.target.recipe.ggufUnavailable { throw MoEWriterError.noGGUF(target: target, reason: reason) }
        self.source = source
        self.layerPlans = layerPlans
        self.dtype = dtype
        self.format = format
        self.manifestFields = manifestFields
        self.library = library
        self.preTokenizers = preTokenizers
        let (hidden, intermediate) = try Self.denseDimensions(of: source)
        self.layers = source.blockCount
        self.hidden = hidden
        self.intermediate = intermediate
        for role in Self.denseRoles where source.recipe.tensor(role: role) == nil {
            throw MoEWriterError.notLlama(path: source.path, missing: "a dense FFN (\(source.recipe.name) has no \(role.rawValue) tensor)")
        }
        for l in 0..<self.layers {
            for role in Self.denseRoles {
                let name = source.recipe.tensor(role: role)!.hfName(layer: l, expert: nil)
                if !source.contains(name) { throw MoEWriterError.notLlama(path: source.path, missing: name) }
            }
        }
        guard layerPlans.count == self.layers else { throw MoEWriterError.layerCount(expected: self.layers, found: layerPlans.count) }
        let sparse = layerPlans.enumerated().compactMap { l, plan in plan.construction.map { (l, $0) } }
        guard let (_, first) = sparse.first else {
            throw MoEWriterError.unsupportedByTarget(target, option: "--dense-layers", reason: "at least one layer must be sparse")
        }
        experts = first.experts
        topK = first.topK
        if sparse.count < self.layers, !self.target.canExpressDenseLayers(in: format) {
            let reason = self.target.moe.denseLayersField == nil
                ? "every layer must be MoE (the layout has no dense-layer list)"
                : "dense layers (\(self.target.moe.denseLayersField!)) exist in the HF layout only; use --format safetensors"
            throw MoEWriterError.unsupportedByTarget(target, option: "--dense-layers", reason: reason)
        }
        try validateLayers(sparse, deferring: deferValidation)
        if format == .gguf {
            do { _ = try ggufTensors(cache: LayerCache()) } catch {
                if deferValidation { problems.append(error) } else { throw error }
            }
        }
    }

    /// The dense source's hidden size D and FFN width F, read through its recipe (`ModelConfig`).
    /// - Throws: `MoEWriterError.notLlama` naming the source and what its config lacks.
    public static func denseDimensions(of source: ModelSource) throws -> (hidden: Int, intermediate: Int) {
        let config: ModelConfig
        do { config = try ModelConfig(json: source.config, recipe: source.recipe) } catch {
            throw MoEWriterError.notLlama(path: source.path, missing: "a readable config (\(error))")
        }
        guard config.intermediateSize > 0 else { throw MoEWriterError.notLlama(path: source.path, missing: "intermediate_size") }
        return (config.hiddenSize, config.intermediateSize)
    }

    /// One construction for every layer.
    public convenience init(
        source: ModelSource, library: RecipeLibrary, preTokenizers: PreTokenizerTable, target: String,
        construction: MoEConstruction, dtype: DType, format: Format, manifestFields: JSONObject,
        deferValidation: Bool = false
    ) throws {
        let layers = source.blockCount
        try self.init(
            source: source, library: library, preTokenizers: preTokenizers, target: target,
            layers: MoELayerPlan.uniform(construction, layers: layers), dtype: dtype, format: format,
            manifestFields: manifestFields, deferValidation: deferValidation)
    }

    /// Largest safetensors shard of HF output, in bytes (`--max-shard-size`; Hugging Face's default 5 GB).
    public var maxShardSize = 5_000_000_000

    /// Partitions computed up front (split layers only).
    var partitions: [Int: NeuronPartition] = [:]
}
