import Conversion
import IOCore

/// Every setting of a `moekit split` / `upcycle` run, from a plan file (`PlanReader`), the command line, or
/// both merged (`overriding(with:)`). Optional fields are "not said"; defaults are applied when the plan is
/// resolved, so that a command-line flag can override the plan field by field.
public struct ConversionPlan: Sendable, Equatable {
    /// Which conversion the plan describes.
    public enum Operation: String, Sendable, CaseIterable {
        case split, upcycle
    }

    /// Calibration text for data-driven methods.
    public struct Calibration: Sendable, Equatable {
        /// JSON Lines file (optionally gzip-compressed).
        public var file: String
        /// Calibration tokens to use (nil: the collector's default).
        public var tokens: Int?
        /// JSONL field holding the text.
        public var field: String

        /// Creates a calibration source; the text field defaults to `text`.
        public init(file: String, tokens: Int? = nil, field: String = "text") {
            self.file = file
            self.tokens = tokens
            self.field = field
        }
    }

    /// `operation`: split or upcycle.
    public var operation: Operation
    /// `input`: the dense model.
    public var input: String?
    /// `output`: the directory or .gguf file to write.
    public var output: String?
    /// `experts` (--experts): routed experts N.
    public var experts: Int?
    /// `top_k` (--top-k): experts per token K.
    public var topK: Int?
    /// `target` (--target): the MoE recipe (default mixtral).
    public var target: String?
    /// `format` (--format): safetensors or gguf (default safetensors).
    public var format: String?
    /// `dtype` (--dtype): f32, f16 or bf16, or float32, float16, bfloat16 (default: the source's float type).
    public var dtype: String?
    /// `seed` (--seed): every random choice (default 0).
    public var seed: UInt64?
    /// `expert_size` (--expert-size): neurons per expert for sharing-inner / sharing-inter.
    public var expertSize: Int?
    /// `shared_experts` (--shared-experts): always-on experts (upcycle, sharing-inter).
    public var sharedExperts: Int?
    /// `granularity` (--granularity): upcycling virtual groups G (default 1).
    public var granularity: Int?
    /// `dense_layers` (--dense-layers): layers kept dense.
    public var denseLayers: LayerSelection?
    /// `calibration` (--calibration, --calibration-tokens, --calibration-field).
    public var calibration: Calibration?
    /// Top-level values of the per-layer settings.
    public var settings: LayerSettings
    /// The `layers` entries, in file order (later entries win).
    public var overrides: [LayerOverride]
    /// The plan file (for error messages), or `command line`.
    public var origin: String

    /// Creates a plan with nothing said but the operation.
    public init(operation: Operation, origin: String = "command line") {
        self.operation = operation
        self.settings = LayerSettings()
        self.overrides = []
        self.origin = origin
    }

    /// Checks the plan's `target` against the MoE targets of `library`, so that a plan file naming an unknown target
    /// is refused with the file's path (`origin`) rather than later as a bare unknown target.
    /// - Throws: `PlanError.invalidField` naming `origin`, `/target`, the known targets and the value found.
    public func checkTarget(in library: RecipeLibrary) throws(PlanError) {
        guard let target, !MoETarget.exists(target, in: library) else { return }
        throw .invalidField(
            path: origin, field: "/target",
            expected: "one of the MoE targets \(MoETarget.known(in: library).joined(separator: ", ")) (recipes in Converters/ with expert_count and a moe section)",
            found: JSONWriter.serialize(.string(target)))
    }

    /// This plan with every field that `flags` sets replaced. A flag also clears the same setting in the
    /// per-layer entries: what is typed on the command line holds for every layer.
    public func overriding(with flags: ConversionPlan) -> ConversionPlan {
        var merged = self
        for field in [\ConversionPlan.input, \.output, \.target, \.format, \.dtype] {
            merged[keyPath: field] = flags[keyPath: field] ?? self[keyPath: field]
        }
        for field in [\ConversionPlan.experts, \.topK, \.expertSize, \.sharedExperts, \.granularity] {
            merged[keyPath: field] = flags[keyPath: field] ?? self[keyPath: field]
        }
        merged.seed = flags.seed ?? seed
        merged.denseLayers = flags.denseLayers ?? denseLayers
        merged.calibration = flags.calibration ?? calibration
        merged.settings = settings.overridden(by: flags.settings)
        var cleared = flags.settings
        if flags.denseLayers != nil { cleared.dense = false }
        merged.overrides = overrides.map { entry in
            var entry = entry
            entry.settings = entry.settings.clearing(cleared)
            return entry
        }.filter { !$0.settings.isEmpty }
        return merged
    }

    /// The settings of layer `layer`: top-level values, then `dense_layers`, then every `layers` entry that
    /// selects it in order, then the defaults. Does not check that the layer exists (see `resolvedLayers`).
    public func settings(forLayer layer: Int) -> ResolvedLayerSettings {
        var result = settings
        if denseLayers?.indices.contains(layer) == true { result.dense = true }
        for entry in overrides where entry.selection.indices.contains(layer) {
            result = result.overridden(by: entry.settings)
        }
        return result.resolved
    }

    /// Every layer's settings for a model with `layerCount` layers.
    /// - Throws: `PlanError.layerOutOfRange` naming the first entry that selects a missing layer.
    public func resolvedLayers(count layerCount: Int) throws(PlanError) -> [ResolvedLayerSettings] {
        if let denseLayers, let bad = denseLayers.indices.first(where: { $0 >= layerCount }) {
            throw .layerOutOfRange(path: origin, field: "/dense_layers", layer: bad, layerCount: layerCount)
        }
        for entry in overrides {
            if let bad = entry.selection.indices.first(where: { $0 >= layerCount }) {
                throw .layerOutOfRange(path: origin, field: entry.field + "/layers", layer: bad, layerCount: layerCount)
            }
        }
        return (0..<layerCount).map { settings(forLayer: $0) }
    }

    /// Routed experts N. - Throws: `.missingSetting` when neither the plan nor the command line gives it.
    public func requiredExperts() throws(PlanError) -> Int {
        guard let experts else { throw .missingSetting(flag: "--experts", field: "experts") }
        return experts
    }

    /// Experts per token K. - Throws: `.missingSetting`.
    public func requiredTopK() throws(PlanError) -> Int {
        guard let topK else { throw .missingSetting(flag: "--top-k", field: "top_k") }
        return topK
    }
}
