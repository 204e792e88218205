import IOCore

/// Turns a schema-valid plan document into a `ConversionPlan`, checking what the schema cannot: seeds beyond
/// Int64 given as numbers, layer-selection strings, and settings that the plan's operation does not use.
struct PlanDecoder {
    let path: String

    func invalid(_ field: String, _ expected: String, _ value: JSONValue) -> PlanError {
        .invalidField(path: path, field: field, expected: expected, found: JSONWriter.serialize(value))
    }

    func selection(_ value: JSONValue, field: String) throws(PlanError) -> LayerSelection {
        if let text = value.stringValue {
            guard let parsed = LayerSelection(parsing: text) else {
                throw invalid(field, "layer indices and ascending ranges such as \"0-3,7\"", value)
            }
            return parsed
        }
        return LayerSelection(indices: (value.arrayValue ?? []).compactMap { $0.intValue.map(Int.init) })
    }

    func settings(_ object: JSONObject, field: String, operation: ConversionPlan.Operation) throws(PlanError) -> LayerSettings {
        let splitOnly = ["method", "rescale", "align", "expert_size"]
        let upcycleOnly = ["drop_ratio", "noise", "granularity"]
        for key in object.keys where (operation == .upcycle && splitOnly.contains(key)) || (operation == .split && upcycleOnly.contains(key)) {
            throw invalid(field + "/" + key, "no \"\(key)\" in a plan whose operation is \(operation.rawValue) (it applies to \(operation == .split ? "upcycle" : "split") only)", object[key]!)
        }
        return LayerSettings(
            method: object["method"]?.stringValue, rescale: object["rescale"]?.stringValue,
            router: object["router"]?.stringValue, dropRatio: object["drop_ratio"]?.doubleValue,
            noise: object["noise"]?.doubleValue.map(Float.init), align: object["align"]?.boolValue,
            dense: object["dense"]?.boolValue)
    }

    func decode(_ document: JSONValue) throws(PlanError) -> ConversionPlan {
        guard let object = document.objectValue, let operationName = object["operation"]?.stringValue,
            let operation = ConversionPlan.Operation(rawValue: operationName)
        else { throw invalid("/operation", "\"split\" or \"upcycle\"", document["operation"] ?? .null) }
        var plan = ConversionPlan(operation: operation, origin: path)
        /// An integer field; a number the schema accepts as an integer but that does not fit (1e400, 1e30) is refused
        /// with its real constraint instead of reading as absent.
        func int(_ key: String) throws(PlanError) -> Int? {
            guard let value = object[key] else { return nil }
            guard let integer = value.intValue else {
                let found = value.doubleValue.map { $0.isFinite ? "\($0), beyond the integer range" : "a number beyond the floating-point range" }
                throw PlanError.invalidField(
                    path: path, field: "/" + key, expected: "an integer in 0…\(Int.max) (the schema's minimum applies too)",
                    found: found ?? JSONWriter.serialize(value))
            }
            return Int(integer)
        }
        plan.input = object["input"]?.stringValue
        plan.output = object["output"]?.stringValue
        plan.experts = try int("experts")
        plan.topK = try int("top_k")
        plan.target = object["target"]?.stringValue
        plan.format = object["format"]?.stringValue
        plan.dtype = object["dtype"]?.stringValue
        if let seed = object["seed"] {
            switch seed {
            case .integer(let value) where value >= 0: plan.seed = UInt64(value)
            case .string(let text):
                guard let value = UInt64(text) else { throw invalid("/seed", "a decimal integer in 0…18446744073709551615", seed) }
                plan.seed = value
            default:
                throw invalid("/seed", "an integer below 2^63, or a decimal string for the full UInt64 range", seed)
            }
        }
        plan.expertSize = try int("expert_size")
        plan.sharedExperts = try int("shared_experts")
        plan.granularity = try int("granularity")
        if let dense = object["dense_layers"] { plan.denseLayers = try selection(dense, field: "/dense_layers") }
        if let calibration = object["calibration"], let file = calibration["file"]?.stringValue {
            plan.calibration = ConversionPlan.Calibration(
                file: file, tokens: calibration["tokens"]?.intValue.map(Int.init), field: calibration["field"]?.stringValue ?? "text")
        }
        plan.settings = try settings(object, field: "", operation: operation)
        for (i, entry) in (object["layers"]?.arrayValue ?? []).enumerated() {
            let field = "/layers/\(i)"
            let entryObject = entry.objectValue ?? JSONObject()
            plan.overrides.append(LayerOverride(
                selection: try selection(entryObject["layers"] ?? .null, field: field + "/layers"),
                settings: try settings(entryObject, field: field, operation: operation), field: field))
        }
        return plan
    }
}
