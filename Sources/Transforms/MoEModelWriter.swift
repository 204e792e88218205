import Foundation
import Formats
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
    public private(set) var problems: [any Error] = []
    /// Whether routed experts that are exact gathers of the dense FFN are written by copying (or converting) the
    /// source's rows and columns directly (`gather(_:)`); false forces the general `Float` path. Both give the same bytes.
    public var usesSourceGathers = true
    let library: RecipeLibrary
    let preTokenizers: PreTokenizerTable

    let layers: Int
    let hidden: Int
    let intermediate: Int
    /// Width of every routed expert, and of the one shared expert (0 when the output has none).
    public private(set) var expertWidth = 0
    public private(set) var sharedWidth = 0

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
        guard let layers = source.config["num_hidden_layers"]?.intValue, let hidden = source.config["hidden_size"]?.intValue,
            let intermediate = source.config["intermediate_size"]?.intValue
        else { throw MoEWriterError.notLlama(path: source.path, missing: "num_hidden_layers/hidden_size/intermediate_size") }
        self.layers = Int(layers)
        self.hidden = Int(hidden)
        self.intermediate = Int(intermediate)
        for l in 0..<self.layers {
            for role in ["gate_proj", "up_proj", "down_proj"] where !source.contains(Self.denseName(l, role)) {
                throw MoEWriterError.notLlama(path: source.path, missing: Self.denseName(l, role))
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

    /// One construction for every layer.
    public convenience init(
        source: ModelSource, library: RecipeLibrary, preTokenizers: PreTokenizerTable, target: String,
        construction: MoEConstruction, dtype: DType, format: Format, manifestFields: JSONObject,
        deferValidation: Bool = false
    ) throws {
        let layers = Int(source.config["num_hidden_layers"]?.intValue ?? 0)
        try self.init(
            source: source, library: library, preTokenizers: preTokenizers, target: target,
            layers: MoELayerPlan.uniform(construction, layers: layers), dtype: dtype, format: format,
            manifestFields: manifestFields, deferValidation: deferValidation)
    }

    private func validateLayers(_ sparse: [(Int, MoEConstruction)], deferring: Bool) throws {
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

    static func denseName(_ layer: Int, _ role: String) -> String { "model.layers.\(layer).mlp.\(role).weight" }

    /// The dense FFN of layer `l`, decoded to Float; the mapped pages are released after decoding, so resident
    /// memory stays bounded by the layer in flight.
    func dense(_ l: Int) throws -> DenseFFN {
        func matrix(_ role: String) throws -> FloatTensor { try source.floats(Self.denseName(l, role), releasingPages: true) }
        return try DenseFFN(gate: try matrix("gate_proj"), up: try matrix("up_proj"), down: try matrix("down_proj"))
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
    func routing(for options: SplitOptions) -> RoutingMode {
        if options.rescale == .exact, target.canExpressUnitWeights { return .unitWeights }
        return target.routing
    }

    /// Partitions computed up front (split layers only).
    var partitions: [Int: NeuronPartition] = [:]

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

    /// Computes every split layer's partition and the manifest's per-layer records.
    func prepare() throws -> [JSONValue] {
        var records: [JSONValue] = []
        for l in 0..<layers {
            var record = JSONObject([("layer", .integer(Int64(l)))])
            guard let construction = layerPlans[l].construction else {
                record["dense"] = .bool(true)
                records.append(.object(record))
                continue
            }
            record["dense"] = .bool(false)
            switch construction {
            case .upcycle(let o):
                let w = intermediate / o.granularity
                record["assignment"] = Manifest.encodeAssignment(
                    (0..<o.experts).map { e in Array(((e % o.granularity) * w)..<((e % o.granularity + 1) * w)) }, neurons: intermediate)
                record["seed"] = .string(String(Self.layerSeed(o.seed, l)))
                record["router_init"] = .string(o.router.name)
                record["drop_ratio"] = .number(o.dropRatio)
                record["noise"] = .number(Double(o.noise))
            case .split(let o):
                record["method"] = .string(o.method.name)
                record["rescale"] = .string(o.rescale.name)
                record["router_init"] = .string(o.router.name)
                record["aligned"] = .bool(o.alignment != nil)
                let partition = try partition(l, o, dense: nil)
                partitions[l] = partition
                record["assignment"] = Manifest.encodeAssignment(partition.routed, neurons: intermediate)
                if !partition.shared.isEmpty { record["shared_assignment"] = Manifest.encodeAssignment(partition.shared, neurons: intermediate) }
            }
            record["shared_expert_width"] = .integer(Int64(target.hasSharedExpert ? sharedWidth : 0))
            record["score_scale"] = .number(scoreScale(l))
            record["score_scale_folded_into_down"] = .bool(!target.keepsScoreScale)
            records.append(.object(record))
        }
        return records
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

    /// Writes the MoE model to `output` (an HF directory, or a GGUF file) and its manifest, and returns the
    /// manifest. Each file is written atomically (temporary file + rename); nothing is written when validation
    /// found problems.
    ///
    /// The source files are hashed on background threads (`SHA256.BackgroundFiles`) while the tensors are
    /// written. The headers are first written with pending digests (64 `0` characters, the length of a hex
    /// digest, so the manifest text keeps its byte length) and overwritten with the final digests before each
    /// file is committed, so no file is renamed into place with pending digests. The standalone manifest file is
    /// written last.
    @discardableResult
    public func write(to output: String, progress: ConversionProgressHandler? = nil) throws -> JSONValue {
        if let problem = problems.first { throw problem }
        let hashing = SHA256.BackgroundFiles(files: source.files)
        let pendingJSON = try manifest(sourceDigests: Array(repeating: SHA256.BackgroundFiles.pendingDigest, count: source.files.count))
        let pendingText = JSONWriter.serialize(pendingJSON)
        var finalJSON: JSONValue?
        /// The manifest with the real digests (waits for the hashing once).
        func finalManifest() throws -> JSONValue {
            if let finalJSON { return finalJSON }
            guard case .object(var object) = pendingJSON else { preconditionFailure("the manifest is an object") }
            object["sources"] = sourceRecords(try hashing.wait())
            finalJSON = .object(object)
            return .object(object)
        }
        switch format {
        case .gguf:
            let tensors = try ggufTensors(cache: LayerCache())
            let metadata = try ggufMetadata(extra: [(Manifest.ggufKey, .string(pendingText))])
            try GGUFWriter.write(
                path: output, metadata: metadata, tensors: withProgress(tensors, progress),
                finalizeMetadata: {
                    var final = metadata
                    final[Manifest.ggufKey] = .string(JSONWriter.serialize(try finalManifest()))
                    return final
                })
        case .safetensors:
            let tensors = try hfTensors(cache: LayerCache())
            try PathUtilities.createDirectory(output)
            try ShardedSafetensorsWriter.write(
                directory: output, tensors: withProgress(tensors, progress), maxShardSize: 5_000_000_000,
                metadata: [("format", "pt"), (Manifest.safetensorsKey, pendingText)],
                finalizeMetadata: { [("format", "pt"), (Manifest.safetensorsKey, JSONWriter.serialize(try finalManifest()))] })
            func writeJSON(_ name: String, _ value: JSONValue) throws {
                try AtomicFileWriter.write(JSONWriter.bytes(value, indent: 2) + [0x0A], to: PathUtilities.join(output, name))
            }
            try writeJSON("config.json", outputConfig())
            try writeTokenizerFiles(output)
        }
        let manifestJSON = try finalManifest()
        try AtomicFileWriter.write(
            JSONWriter.bytes(manifestJSON, indent: 2) + [0x0A], to: Manifest.path(forOutput: output, isDirectory: format == .safetensors))
        return manifestJSON
    }

    /// The provenance record (computes the split partitions), with `sourceDigests` as the SHA-256 of
    /// `source.files` (in that order).
    func manifest(sourceDigests: [String]) throws -> JSONValue {
        var manifest = manifestFields
        manifest["moekit_version"] = .string(MoekitVersion.string)
        manifest["target"] = .string(recipe.name)
        manifest["format"] = .string(format.rawValue)
        manifest["dtype"] = .string(dtype.rawValue)
        manifest["experts"] = .integer(Int64(experts))
        manifest["top_k"] = .integer(Int64(topK))
        manifest["expert_width"] = .integer(Int64(expertWidth))
        manifest["shared_expert_width"] = .integer(Int64(target.hasSharedExpert ? sharedWidth : 0))
        manifest["dense_intermediate_size"] = .integer(Int64(intermediate))
        manifest["dense_layers"] = .array((0..<layers).filter { layerPlans[$0].construction == nil }.map { .integer(Int64($0)) })
        let first = layerPlans.lazy.compactMap(\.construction).first!
        switch first {
        case .upcycle(let o):
            manifest["operation"] = .string("upcycle")
            manifest["router_init"] = .string(o.router.name)
            manifest["drop_ratio"] = .number(o.dropRatio)
            manifest["noise"] = .number(Double(o.noise))
            manifest["granularity"] = .integer(Int64(o.granularity))
            manifest["shared_experts"] = .integer(Int64(o.sharedExperts))
        case .split(let o):
            manifest["operation"] = .string("split")
            manifest["method"] = .string(o.method.name)
            manifest["rescale"] = .string(o.rescale.name)
            manifest["router_init"] = .string(o.router.name)
        }
        manifest["exact_by_construction"] = .bool(isExactByConstruction)
        manifest["source_config"] = source.config
        manifest["sources"] = sourceRecords(sourceDigests)
        manifest["layers"] = .array(try prepare())
        return .object(manifest)
    }

    /// The manifest's `sources` list: each source file's path and SHA-256.
    func sourceRecords(_ digests: [String]) -> JSONValue {
        .array(zip(source.files, digests).map { file, digest in
            .object(JSONObject([("path", .string(file)), ("sha256", .string(digest))]))
        })
    }

    /// Tokenizer files: copied from an HF source, produced from GGUF metadata as `moekit convert` does.
    func writeTokenizerFiles(_ directory: String) throws {
        if source.format == "huggingface" {
            for name in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "tokenizer.model"] {
                let from = PathUtilities.join(source.path, name)
                if PathUtilities.exists(from) {
                    try AtomicFileWriter.write(try PathUtilities.readBytes(from), to: PathUtilities.join(directory, name))
                }
            }
            return
        }
        guard let tokenizer = source.tokenizer else { return }
        func writeJSON(_ name: String, _ value: JSONValue) throws {
            try AtomicFileWriter.write(JSONWriter.bytes(value, indent: 2) + [0x0A], to: PathUtilities.join(directory, name))
        }
        var generation = JSONObject([("_from_model_config", .bool(true))])
        if let bos = tokenizer.bosID { generation["bos_token_id"] = .integer(Int64(bos)) }
        if let eos = tokenizer.eosID { generation["eos_token_id"] = .integer(Int64(eos)) }
        try writeJSON("generation_config.json", .object(generation))
        if tokenizer.isByteLevelBPE {
            try writeJSON("tokenizer.json", try tokenizer.tokenizerJSON(preTokenizers: preTokenizers, path: source.path))
            let maxLength = source.config["max_position_embeddings"]?.intValue.map(Int.init)
            try writeJSON("tokenizer_config.json", tokenizer.tokenizerConfigJSON(maxLength: maxLength))
            try writeJSON("special_tokens_map.json", tokenizer.specialTokensMapJSON())
        }
    }
}
