import ArgumentParser
import Conversion
import Foundation
import IOCore
import Runtime
import TensorCore
import Transforms

/// One `split` / `upcycle` / `plan` run from a merged plan: opens the input, resolves every layer's settings, and
/// prints the dry run or writes the output. Every check runs before anything is written.
struct MoEConversion {
    let plan: ConversionPlan
    let recipes: String?
    /// The `--plan` file, recorded verbatim in the manifest next to the command line.
    var planFile: String? = nil
    /// Replace an existing output (`--force`).
    var force = false

    var target: String { plan.target ?? "mixtral" }
    var seed: UInt64 { plan.seed ?? 0 }

    /// Largest safetensors shard in bytes (`--max-shard-size`).
    var maxShardSize = 5_000_000_000
    /// Write a GGUF whose source has no vocabulary (`--allow-no-vocab`).
    var allowNoVocab = false

    /// The output type: `--dtype` (or the plan's `dtype`), else the source's float type (F16 for a quantized source).
    func dtype(source: ModelSource?) throws -> DType {
        guard let name = plan.dtype else { return source?.floatType ?? .f32 }
        return try OutputConventions.parseFloat(name)
    }

    /// The output format: from the output's extension; `--format` (or the plan's `format`) must agree with it.
    func format() throws -> MoEModelWriter.Format {
        let kind = try OutputConventions.format(output: plan.output, explicit: plan.format, option: "--format")
        return kind == .gguf ? .gguf : .safetensors
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
        if let name = plan.dtype { _ = try OutputConventions.parseFloat(name) }
        let inputs = [input] + [planFile, plan.calibration?.file].compactMap { $0 }
        let format: MoEModelWriter.Format
        if !dryRun, let output = plan.output {
            let kind = try OutputConventions.checkedFormat(output: output, explicit: plan.format, option: "--format", inputs: inputs, force: force)
            format = kind == .gguf ? .gguf : .safetensors
        } else {
            format = try self.format()
        }
        if !dryRun, let output = plan.output {
            try OutputChecks.check(
                output: output, inputs: [input] + [planFile, plan.calibration?.file].compactMap { $0 }, force: force,
                directoryOutput: format == .safetensors)
        }
        _ = try plan.requiredExperts()
        _ = try plan.requiredTopK()
        let directory = try RecipeLibrary.locateDirectory(explicit: recipes)
        let library = try RecipeLibrary(directory: directory)
        let preTokenizers = try PreTokenizerTable(convertersDirectory: directory)
        let source = try ModelSource(path: input, recipes: library, preTokenizers: preTokenizers)
        let dtype = try dtype(source: source)
        if format == .gguf, !dryRun { try OutputConventions.requireVocabulary(source.tokenizer != nil, input: input, allowed: allowNoVocab) }
        let layerCount = source.blockCount
        let layers = try plan.resolvedLayers(count: layerCount)
        try Self.validateNames(layers, operation: plan.operation)
        var manifestFields = JSONObject([("command", .array(CommandLine.arguments.map { .string($0) })), ("seed", .string(String(seed)))])
        if let planFile {
            manifestFields["plan"] = .object(JSONObject([
                ("path", .string(planFile)), ("text", .string(String(decoding: try PathUtilities.readBytes(planFile), as: UTF8.self))),
            ]))
        }
        func writer(_ layers: [MoELayerPlan], deferValidation: Bool) throws -> MoEModelWriter {
            let writer = try MoEModelWriter(
                source: source, library: library, preTokenizers: preTokenizers, target: target, layers: layers,
                dtype: dtype, format: format,
                manifestFields: manifestFields, deferValidation: deferValidation)
            writer.maxShardSize = maxShardSize
            return writer
        }
        if dryRun {
            let report = try DryRunReport(plan: plan, layers: layers, source: source) { try writer($0, deferValidation: true) }
            json ? print(JSONWriter.serialize(report.json)) : report.printText()
            if !report.problems.isEmpty {
                throw ValidationError("the plan has \(report.problems.count) problem(s); see \"problems\" above")
            }
            return
        }
        // Validate the layout before the (possibly long) calibration pass: sizes do not depend on calibration data.
        let sizing = try writer(try DryRunReport.sizingLayers(plan: plan, layers: layers, source: source), deferValidation: false)
        let sizes = sizing.plan()
        if let bytes = sizes["output_bytes"]?.intValue { try OutputSafety.checkFreeSpace(bytes: Int(bytes), for: plan.output!) }
        let memory = ProcessInfo.processInfo.physicalMemory
        if let ram = sizes["working_memory_bytes"]?.intValue, ram > 0, UInt64(ram) > memory {
            throw ValidationError("the conversion needs \(ram) bytes of working memory but this machine has \(memory) (see --dry-run)")
        }
        let reporter = try ProgressReporter(label: label, logPath: log)
        let planned = try plan.plannedLayers(
            count: layerCount, calibration: try calibration(source: source, layerCount: layerCount, log: reporter.log))
        let outputWriter = try writer(planned, deferValidation: false)
        try outputWriter.write(to: plan.output!, progress: { reporter.report($0) }, replaceExisting: force)
        printError("wrote \(plan.output!)")
    }

    /// Default number of calibration tokens.
    static let defaultCalibrationTokens = 2048

    /// The calibration record of each layer, collected once when some layer's settings read calibration data and
    /// `--calibration` is given (`CalibrationCollector`); otherwise every layer gets nil, so the construction names
    /// the option that needs it. Samples are clustered into N groups (R = N / G dense copies for upcycling), the
    /// prompt sets of the gradient/sharing importance and of the `hidden` router.
    func calibration(source: ModelSource, layerCount: Int, log: ProgressLog?) throws -> (Int) throws -> LayerCalibration? {
        guard let needs = try plan.calibrationNeeds(layerCount: layerCount), let calibration = plan.calibration else {
            return { _ in nil }
        }
        let tokenizer = try makeTokenizer(source)
        let model = try LanguageModel(config: try ModelConfig(json: source.config), source: source)
        let tokens = calibration.tokens ?? Self.defaultCalibrationTokens
        let documents = try CalibrationInput(path: calibration.file, field: calibration.field).documents(tokenizer: tokenizer, tokens: tokens)
        let experts = try plan.requiredExperts()
        let clusters = plan.operation == .upcycle ? max(1, experts / max(1, plan.granularity ?? 1)) : experts
        let samples = try CalibrationSamples.make(
            documents: documents, maxTokens: tokens, clusters: clusters, contextLimit: model.config.maxPositionEmbeddings)
        printError("calibration: \(samples.count) samples of \(samples[0].count) tokens from \(calibration.file), \(clusters) clusters")
        let printer = CalibrationProgressPrinter(log: log)
        let records = try CalibrationCollector.collect(
            model: model, samples: samples, clusters: clusters, needs: needs, seed: seed,
            importance: { try FFNImportance.ffnImportance(model: model, sequences: $0, sequencesDone: $1) },
            progress: printer.report)
        return { records[$0] }
    }
}
