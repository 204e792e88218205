import Conversion
import Formats
import Foundation
import IOCore
import TensorCore
import Transforms

/// The dry run of a plan: the writer's size plan (parameters, FLOPs, bytes per dtype) with per-layer settings,
/// dense layers, problems (divisibility per layer, calibration, what the target cannot express), the shard
/// plan, the RAM needed and the config fields the target does not carry. Nothing is written.
struct DryRunReport {
    private(set) var json: JSONValue = .null
    /// One line per problem; a plan with problems cannot be written as it stands.
    private(set) var problems: [JSONValue] = []
    /// Things that will be written but may not mean the same in the target (e.g. `rope_scaling`).
    private(set) var warnings: [String] = []

    /// Config keys every target handles whatever its recipe lists.
    static let genericConfigKeys: Set<String> = [
        "architectures", "model_type", "torch_dtype", "transformers_version", "bos_token_id", "eos_token_id",
        "pad_token_id", "tie_word_embeddings", "hidden_act", "initializer_range", "use_cache",
    ]

    /// Every layer's construction with all-zero calibration data of the right shapes: sizes, divisibility and what
    /// the target can express do not depend on the data, so the dry run (and the pre-check before a calibration
    /// pass) size the real per-layer settings without reading any text.
    static func sizingLayers(plan: ConversionPlan, layers: [ResolvedLayerSettings], source: ModelSource) throws -> [MoELayerPlan] {
        let experts = try plan.requiredExperts()
        let (hidden, intermediate) = try MoEModelWriter.denseDimensions(of: source)
        let zeros = LayerCalibration(
            mlpInputs: FloatTensor(zeros: [experts, hidden]), activations: FloatTensor(zeros: [1, intermediate]),
            importance: [[Float]](repeating: [Float](repeating: 0, count: intermediate), count: experts),
            tokenLabels: Array(0..<experts))
        var sizingPlan = plan
        sizingPlan.calibration = nil
        return try sizingPlan.plannedLayers(count: layers.count) { _ in zeros }
    }

    init(
        plan: ConversionPlan, layers: [ResolvedLayerSettings], source: ModelSource,
        makeWriter: ([MoELayerPlan]) throws -> MoEModelWriter
    ) throws {
        let experts = try plan.requiredExperts()
        let intermediate = try MoEModelWriter.denseDimensions(of: source).intermediate
        func problem(_ layer: Int?, _ text: String) {
            problems.append(.object(JSONObject([("layer", layer.map { .integer(Int64($0)) } ?? .null), ("problem", .string(text))])))
        }
        for (l, settings) in layers.enumerated() where !settings.dense {
            if plan.operation == .split, settings.method == "sharing-inter" {
                let m = plan.expertSize ?? 0
                let shared = plan.sharedExperts ?? 0
                if (experts + shared) * m != intermediate {
                    problem(l, "(N + shared) · expert_size = (\(experts) + \(shared)) · \(m) ≠ d_ff = \(intermediate) (--method sharing-inter)")
                }
            }
            if let (_, option) = plan.calibrationNeeds(of: settings), plan.calibration == nil {
                problem(l, "\(option) needs --calibration FILE")
            }
        }
        let writer = try makeWriter(try Self.sizingLayers(plan: plan, layers: layers, source: source))
        var report = JSONObject([("operation", .string(plan.operation.rawValue)), ("input", .string(source.path))])
        if let output = plan.output { report["output"] = .string(output) }
        for (key, value) in (writer.plan().objectValue ?? JSONObject()).pairs { report[key] = value }
        for text in report["problems"]?.arrayValue?.compactMap(\.stringValue) ?? [] { problem(nil, text) }
        report["layers"] = .array(zip(report["layers"]?.arrayValue ?? [], layers).map { entry, settings in
            var object = entry.objectValue ?? JSONObject()
            for (key, value) in Self.settingsJSON(settings, layer: nil).objectValue!.pairs { object[key] = value }
            return .object(object)
        })
        report["shard_plan"] = Self.shardPlan(report, output: plan.output, format: writer.format)
        report["ram_needed_bytes"] = .integer(Int64(try Self.ramNeeded(report, layers: layers, plan: plan, source: source)))
        if let output = plan.output, let bytes = report["output_bytes"]?.intValue, let free = OutputSafety.availableBytes(for: output),
            Int(bytes) > free
        {
            problem(nil, "the output needs \(bytes) bytes but the file system of \(output) has \(free) bytes free")
        }
        let memory = ProcessInfo.processInfo.physicalMemory
        if let ram = report["ram_needed_bytes"]?.intValue, ram > 0, UInt64(ram) > memory {
            problem(nil, "the conversion needs \(ram) bytes of memory but this machine has \(memory)")
        }
        report["config_fields_not_in_target"] = .array(Self.configFieldsNotInTarget(source: source, recipe: writer.recipe).map { .string($0) })
        if let scaling = source.configFacts.ropeScaling {
            warnings.append("rope_scaling \(JSONWriter.serialize(scaling)) is not in the \(writer.recipe.name) recipe: the \(writer.format == .gguf ? "GGUF output drops it" : "config.json keeps it, but runtimes of this layout may ignore it")")
        }
        if plan.operation == .split, report["routing"]?.stringValue == "softmax_topk",
            let unscaled = layers.first(where: { !$0.dense && $0.rescale == "none" && $0.router != "zero" })
        {
            warnings.append("\(writer.recipe.name) does not renormalise the top-k weights: with --rescale \(unscaled.rescale) and a \(unscaled.router) router the routed output shrinks about N/K-fold; consider --rescale n-over-k or calibrated")
        }
        if let needs = try plan.calibrationNeeds(layerCount: layers.count) {
            var list: [JSONValue] = [.string("mlp_inputs")]
            if needs.contains(.activations) { list.append(.string("activations")) }
            if needs.contains(.importance) { list.append(.string("importance")) }
            report["calibration_needs"] = .array(list)
        }
        report["warnings"] = .array(warnings.map { .string($0) })
        report["problems"] = .array(problems)
        json = .object(report)
    }

    static func settingsJSON(_ settings: ResolvedLayerSettings, layer: Int?) -> JSONValue {
        var object = JSONObject()
        if let layer { object["layer"] = .integer(Int64(layer)) }
        object["dense"] = .bool(settings.dense)
        object["method"] = .string(settings.method)
        object["rescale"] = .string(settings.rescale)
        object["router"] = .string(settings.router)
        object["drop_ratio"] = .number(settings.dropRatio)
        object["noise"] = .number(Double(settings.noise))
        object["align"] = .bool(settings.align)
        return .object(object)
    }

    /// Shard count and file names (5 GB shards, the writer's limit).
    static func shardPlan(_ report: JSONObject, output: String?, format: MoEModelWriter.Format) -> JSONValue {
        let count = Int(report["shards"]?.intValue ?? 1)
        let files: [String]
        if format == .gguf {
            files = [output.map { String($0.split(separator: "/").last ?? "") } ?? "model.gguf"]
        } else if count == 1 {
            files = ["model.safetensors"]
        } else {
            files = (1...count).map { ShardedSafetensorsWriter.shardName(index: $0, count: count) } + ["model.safetensors.index.json"]
        }
        return .object(JSONObject([("count", .integer(Int64(count))), ("files", .array(files.map { .string($0) }))]))
    }

    /// The writer's working memory plus what the methods add: co-activation graphs `[I, I]` and calibration
    /// buffers (F32).
    static func ramNeeded(_ report: JSONObject, layers: [ResolvedLayerSettings], plan: ConversionPlan, source: ModelSource) throws -> Int {
        let base = Int(report["working_memory_bytes"]?.intValue ?? 0)
        let (h, i) = try MoEModelWriter.denseDimensions(of: source)
        let tokens = plan.calibration?.tokens ?? 0
        var extra = 0
        for settings in layers where !settings.dense {
            var layerExtra = 0
            if plan.operation == .split, settings.method == "coactivation" { layerExtra += 4 * i * i + 4 * tokens * i }
            if plan.operation == .split, settings.method == "clustering" { layerExtra += 4 * i * h }
            if plan.calibrationNeeds(of: settings) != nil { layerExtra += 4 * tokens * h }
            extra = max(extra, layerExtra)
        }
        return base + extra
    }

    /// Source config keys that the target recipe does not map (GGUF output drops them; config.json keeps them but
    /// the target's runtimes may not read them).
    static func configFieldsNotInTarget(source: ModelSource, recipe: ArchitectureRecipe) -> [String] {
        let known = Set(recipe.config.map(\.hf)).union(genericConfigKeys)
        return (source.config.objectValue?.keys ?? []).filter { !known.contains($0) }
    }

    func printText() {
        let object = json.objectValue ?? JSONObject()
        func int(_ key: String) -> Int { Int(object[key]?.intValue ?? 0) }
        if let layers = object["layers"]?.arrayValue {
            for layer in layers {
                let router = "router \(layer["router"]?.stringValue ?? "")"
                let settings = layer["dense"]?.boolValue == true ? "dense"
                    : object["operation"]?.stringValue == "upcycle"
                    ? "drop ratio \(layer["drop_ratio"]?.doubleValue ?? 0), noise \(layer["noise"]?.doubleValue ?? 0), \(router)"
                    : "\(layer["method"]?.stringValue ?? ""), rescale \(layer["rescale"]?.stringValue ?? ""), \(router)\(layer["align"]?.boolValue == true ? ", align" : "")"
                print("layer \(layer["layer"]?.intValue ?? 0): \(layer["experts"]?.intValue ?? 0) experts × \(layer["expert_width"]?.intValue ?? 0) neurons, "
                    + "parameters \(layer["total_parameters"]?.intValue ?? 0) total, \(layer["active_parameters"]?.intValue ?? 0) active (\(settings))")
            }
            print("dense parameters: \(int("dense_parameters"))")
            print("MoE parameters: \(int("total_parameters")) total, \(int("active_parameters_per_token")) active per token")
            print("output: \(ProgressReporter.bytes(int("output_bytes"))) (\(object["format"]?.stringValue ?? ""), \(object["dtype"]?.stringValue ?? ""))")
            print("FLOPs per token: dense \(int("flops_per_token_dense")), MoE \(int("flops_per_token_moe"))")
            let files = object["shard_plan"]?["files"]?.arrayValue?.compactMap(\.stringValue) ?? []
            print("shards: \(int("shards")) (\(files.joined(separator: ", ")))")
            print("RAM needed: about \(ProgressReporter.bytes(int("ram_needed_bytes"))) (working memory \(ProgressReporter.bytes(int("working_memory_bytes"))), one layer at a time)")
            let fields = object["config_fields_not_in_target"]?.arrayValue?.compactMap(\.stringValue) ?? []
            if !fields.isEmpty { print("config fields not in the target: \(fields.joined(separator: ", "))") }
        }
        for warning in warnings { print("warning: \(warning)") }
        for problem in problems {
            let layer = problem["layer"]?.intValue.map { "layer \($0): " } ?? ""
            print("problem: \(layer)\(problem["problem"]?.stringValue ?? "")")
        }
    }
}
