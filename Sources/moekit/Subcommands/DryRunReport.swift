import Formats
import TensorCore
import Transforms

/// The dry run of a plan: the writer's size plan (parameters, FLOPs, bytes per dtype) with per-layer settings,
/// dense layers, problems (divisibility per layer, calibration, what the current writer cannot express), the shard
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

    init(
        plan: ConversionPlan, layers: [ResolvedLayerSettings], source: ModelSource,
        makeWriter: (MoEConstruction) throws -> MoEModelWriter
    ) throws {
        let experts = try plan.requiredExperts()
        let intermediate = Int(source.config["intermediate_size"]?.intValue ?? 0)
        func problem(_ layer: Int?, _ text: String) {
            problems.append(.object(JSONObject([("layer", layer.map { .integer(Int64($0)) } ?? .null), ("problem", .string(text))])))
        }
        var divisible = true
        for (l, settings) in layers.enumerated() where !settings.dense {
            switch plan.operation {
            case .split where ["random", "clustering", "gradient", "coactivation"].contains(settings.method) && intermediate % experts != 0:
                problem(l, "N ∤ d_ff: \(intermediate) neurons do not split into \(experts) equal experts (--method \(settings.method))")
                divisible = false
            case .split where settings.method == "sharing-inter":
                let m = plan.expertSize ?? 0
                let shared = plan.sharedExperts ?? 0
                if (experts + shared) * m != intermediate {
                    problem(l, "(N + shared) · expert_size = (\(experts) + \(shared)) · \(m) ≠ d_ff = \(intermediate) (--method sharing-inter)")
                    divisible = false
                }
            case .upcycle where intermediate % (plan.granularity ?? 1) != 0:
                problem(l, "granularity \(plan.granularity ?? 1) ∤ d_ff = \(intermediate)")
                divisible = false
            default: break
            }
            if let (_, option) = plan.calibrationNeeds(of: settings), plan.calibration == nil {
                problem(l, "\(option) needs --calibration FILE")
            }
        }
        let denseLayers = layers.indices.filter { layers[$0].dense }
        if !denseLayers.isEmpty { problem(nil, "layers \(denseLayers.map(String.init).joined(separator: ",")) are kept dense: \(PlanError.perLayerUnsupported(detail: "the current writer builds every layer the same way"))") }
        let moeSettings = layers.filter { !$0.dense }
        if Set(moeSettings.map { "\($0)" }).count > 1 {
            problem(nil, PlanError.perLayerUnsupported(detail: "layers differ in method, rescale, router, drop ratio, noise or alignment").description)
        }
        var report = JSONObject([("operation", .string(plan.operation.rawValue)), ("input", .string(source.path))])
        if let output = plan.output { report["output"] = .string(output) }
        guard divisible, let representative = moeSettings.first else {
            if moeSettings.isEmpty { problem(nil, "every layer is kept dense: nothing to convert") }
            report["layer_settings"] = .array(layers.enumerated().map { Self.settingsJSON($1, layer: $0) })
            report["problems"] = .array(problems)
            json = .object(report)
            return
        }
        // Sizes do not depend on the data a method reads: size the plan with a data-free stand-in of the same shape.
        var sizing = representative
        if plan.calibrationNeeds(of: sizing) != nil {
            sizing.method = ["gradient", "coactivation"].contains(sizing.method) ? "random" : sizing.method
            sizing.rescale = sizing.rescale == "calibrated" ? "none" : sizing.rescale
            sizing.router = sizing.router == "hidden" ? "random" : sizing.router
            sizing.align = false
        }
        var sizingPlan = plan
        sizingPlan.calibration = nil
        let writer = try makeWriter(try sizingPlan.construction(for: sizing, layer: 0, calibration: nil))
        for (key, value) in (writer.plan().objectValue ?? JSONObject()).pairs { report[key] = value }
        Self.applyDenseLayers(denseLayers, to: &report, writer: writer, hidden: Int(source.config["hidden_size"]?.intValue ?? 0))
        report["layers"] = .array(zip(report["layers"]?.arrayValue ?? [], layers).map { entry, settings in
            var object = entry.objectValue ?? JSONObject()
            for (key, value) in Self.settingsJSON(settings, layer: nil).objectValue!.pairs { object[key] = value }
            return .object(object)
        })
        report["shard_plan"] = Self.shardPlan(report, output: plan.output, format: writer.format)
        report["ram_needed_bytes"] = .integer(Int64(Self.ramNeeded(report, layers: layers, plan: plan, source: source)))
        report["config_fields_not_in_target"] = .array(Self.configFieldsNotInTarget(source: source, recipe: writer.recipe).map { .string($0) })
        if let scaling = source.config["rope_scaling"], scaling != .null {
            warnings.append("rope_scaling \(JSONWriter.serialize(scaling)) is not in the \(writer.recipe.name) recipe: the \(writer.format == .gguf ? "GGUF output drops it" : "config.json keeps it, but runtimes of this layout may ignore it")")
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

    /// Dense layers keep their FFN: their MoE counts are replaced by the dense FFN's in the layer entries and totals.
    static func applyDenseLayers(_ dense: [Int], to report: inout JSONObject, writer: MoEModelWriter, hidden: Int) {
        guard !dense.isEmpty, var entries = report["layers"]?.arrayValue else { return }
        let bytes = Int64(writer.dtype.byteSize)
        let routerBytes = writer.format == .gguf ? Int64(4) : bytes
        let routerType = writer.format == .gguf ? "F32" : writer.dtype.rawValue
        var byType = report["bytes_by_dtype"]?.objectValue ?? JSONObject()
        func add(_ key: String, _ delta: Int64) { report[key] = .integer((report[key]?.intValue ?? 0) + delta) }
        for l in dense where l < entries.count {
            guard var entry = entries[l].objectValue, let denseFFN = entry["dense_ffn_parameters"]?.intValue,
                let total = entry["total_parameters"]?.intValue, let active = entry["active_parameters"]?.intValue
            else { continue }
            let router = Int64(writer.experts * hidden)
            add("total_parameters", denseFFN - total)
            add("active_parameters_per_token", denseFFN - active)
            add("flops_per_token_moe", 2 * (denseFFN - active))
            add("output_bytes", denseFFN * bytes - (total - router) * bytes - router * routerBytes)
            byType[writer.dtype.rawValue] = .integer((byType[writer.dtype.rawValue]?.intValue ?? 0) + (denseFFN - total + router) * bytes)
            byType[routerType] = .integer((byType[routerType]?.intValue ?? 0) - router * routerBytes)
            entry["experts"] = .integer(0)
            entry["expert_width"] = .integer(0)
            entry["total_parameters"] = .integer(denseFFN)
            entry["active_parameters"] = .integer(denseFFN)
            entries[l] = .object(entry)
        }
        report["bytes_by_dtype"] = .object(byType)
        report["layers"] = .array(entries)
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
    static func ramNeeded(_ report: JSONObject, layers: [ResolvedLayerSettings], plan: ConversionPlan, source: ModelSource) -> Int {
        let base = Int(report["working_memory_bytes"]?.intValue ?? 0)
        let i = Int(source.config["intermediate_size"]?.intValue ?? 0)
        let h = Int(source.config["hidden_size"]?.intValue ?? 0)
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
