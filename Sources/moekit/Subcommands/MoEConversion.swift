import ArgumentParser
import Formats
import TensorCore
import Transforms

/// One `split` / `upcycle` / `plan` run from a merged plan: opens the input, resolves every layer's settings, and
/// prints the dry run or writes the output. Every check runs before anything is written.
struct MoEConversion {
    let plan: ConversionPlan
    let recipes: String?

    var target: String { plan.target ?? "mixtral" }
    var seed: UInt64 { plan.seed ?? 0 }

    func dtype() throws -> DType {
        let name = plan.dtype ?? "f32"
        guard let parsed = DType(rawValue: name.uppercased()), [.f32, .f16, .bf16].contains(parsed) else {
            throw ValidationError("--dtype: expected f32, f16 or bf16, found '\(name)'")
        }
        return parsed
    }

    func format() throws -> MoEModelWriter.Format {
        let name = plan.format ?? "safetensors"
        guard let parsed = MoEModelWriter.Format(rawValue: name) else {
            throw ValidationError("--format: expected safetensors or gguf, found '\(name)'")
        }
        return parsed
    }

    /// Checks the names of every layer's settings (flags are not schema-checked).
    static func validateNames(_ layers: [ResolvedLayerSettings], operation: ConversionPlan.Operation) throws {
        for settings in layers {
            try RouterInit.validateName(settings.router)
            if operation == .split {
                try SplitMethod.validateName(settings.method)
                try RescaleMode.validateName(settings.rescale)
            }
        }
    }

    func run(dryRun: Bool, json: Bool, log: String?, label: String) throws {
        guard let input = plan.input else {
            throw ValidationError("missing INPUT: give the dense model on the command line or as \"input\" in the plan")
        }
        guard dryRun || plan.output != nil else {
            throw ValidationError("missing OUTPUT: give it on the command line or as \"output\" in the plan")
        }
        let dtype = try dtype()
        let format = try format()
        _ = try plan.requiredExperts()
        _ = try plan.requiredTopK()
        let directory = try RecipeLibrary.locateDirectory(explicit: recipes)
        let library = try RecipeLibrary(directory: directory)
        let preTokenizers = try PreTokenizerTable(convertersDirectory: directory)
        let source = try ModelSource(path: input, recipes: library, preTokenizers: preTokenizers)
        guard let layerCount = source.config["num_hidden_layers"]?.intValue.map(Int.init) else {
            throw MoEWriterError.notLlama(path: source.path, missing: "num_hidden_layers")
        }
        let layers = try plan.resolvedLayers(count: layerCount)
        try Self.validateNames(layers, operation: plan.operation)
        func writer(_ construction: MoEConstruction) throws -> MoEModelWriter {
            try MoEModelWriter(
                source: source, library: library, preTokenizers: preTokenizers, target: target, construction: construction,
                dtype: dtype, format: format,
                manifestFields: JSONObject([
                    ("command", .array(CommandLine.arguments.map { .string($0) })), ("seed", .string(String(seed))),
                ]))
        }
        if dryRun {
            let report = try DryRunReport(plan: plan, layers: layers, source: source, makeWriter: writer)
            json ? print(JSONWriter.serialize(report.json)) : report.printText()
            if !report.problems.isEmpty {
                throw ValidationError("the plan has \(report.problems.count) problem(s); see \"problems\" above")
            }
            return
        }
        // The per-layer MoEModelWriter API replaces `uniformConstruction` here: pass `planned` through.
        let planned = try plan.plannedLayers(count: layerCount, calibration: try calibration(source: source, layerCount: layerCount))
        let outputWriter = try writer(try PlannedLayer.uniformConstruction(of: planned))
        let reporter = try ProgressReporter(label: label, logPath: log)
        try outputWriter.write(to: plan.output!, progress: { reporter.report($0) })
        printError("wrote \(plan.output!)")
    }

    /// The calibration record of each layer, for the layers whose settings read calibration data: the single place
    /// where `CalibrationCollector` is to be called (once, with `plan.calibrationNeeds(layerCount:)`), returning
    /// the collected record of layer `l`. Without `--calibration` it returns nil, so the construction names the
    /// option that needs it.
    func calibration(source: ModelSource, layerCount: Int) throws -> (Int) throws -> LayerCalibration? {
        guard try plan.calibrationNeeds(layerCount: layerCount) != nil, let calibration = plan.calibration else { return { _ in nil } }
        throw ValidationError("--calibration \(calibration.file): split/upcycle do not collect calibration data yet (CalibrationCollector is not wired into the conversion)")
    }
}
