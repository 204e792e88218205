import ArgumentParser
import Conversion
import Foundation
import TensorCore
import Transforms

/// Options shared by `split` and `upcycle`. Every setting is optional here so that a flag typed on the command line
/// can be told apart from one left out: left-out settings come from `--plan`, then from the defaults shown in the
/// help text (applied by `ConversionPlan`).
struct MoEOutputOptions: ParsableArguments {
    @Option(help: "A plan file (JSON or YAML, Schemas/plan.schema.json) giving any of these options, per layer too; flags typed here override it.")
    var plan: String?

    @Option(parsing: .unconditional, help: "Number of routed experts N ≥ 1 (required here or in the plan).",
        transform: NumberOption.integer("--experts", minimum: 1))
    var experts: Int?

    @Option(parsing: .unconditional, help: "Experts per token K ≥ 1 (required here or in the plan).",
        transform: NumberOption.integer("--top-k", minimum: 1))
    var topK: Int?

    @Option(help: "Router init: random (N(0, 0.02)), zero, centroids, hidden (calibration). (default: random)")
    var router: String?

    @Option(parsing: .unconditional, help: "Seed for every random choice, 0…2^64−1. (default: 0)", transform: NumberOption.seed("--seed"))
    var seed: UInt64?

    @Option(help: "Target layout: a recipe in Converters/ with a moe section: mixtral, qwen2-moe, olmoe, llama-moe. (default: mixtral)")
    var target: String?

    @Option(name: [.customLong("format"), .customLong("to")], help: "Output format: safetensors (HF directory) or gguf; must agree with OUT. (default: from OUT's extension: .gguf is GGUF, anything else an HF directory)")
    var format: String?

    @Option(help: "Output type: f32|float32, f16|float16 or bf16|bfloat16. (default: the input's float type; F16 for a quantized input)")
    var dtype: String?

    @Option(help: "Largest safetensors shard of HF output, e.g. 5GB, 500MB (decimal units as Hugging Face uses).")
    var maxShardSize: String = "5GB"

    @Flag(help: "Write a GGUF even when the input has no vocabulary (tokenizer.ggml.model = no_vocab).")
    var allowNoVocab = false

    @Option(help: "Calibration text for data-driven methods: JSON Lines (.jsonl, .jsonl.gz) or a text file.")
    var calibration: String?

    @Option(parsing: .unconditional, help: "Calibration tokens to use, ≥ 1. (default: 2048)",
        transform: NumberOption.integer("--calibration-tokens", minimum: 1))
    var calibrationTokens: Int?

    @Option(help: "JSONL field holding the calibration text. (default: text)")
    var calibrationField: String?

    @Flag(help: "Print parameters (total and active per token), FLOPs, bytes, shards, RAM and problems per layer; write nothing.")
    var dryRun = false

    @Flag(help: "With --dry-run: print JSON.")
    var json = false

    @Option(help: recipesOptionHelp)
    var recipes: String?

    @Option(help: "Append JSONL progress records to this file.")
    var log: String?

    @Flag(help: "Replace an existing output (the old one is removed only after the new one is complete).")
    var force = false

    /// The settings typed on the command line, as a plan that overrides `--plan`.
    func flags(_ operation: ConversionPlan.Operation, input: String?, output: String?) -> ConversionPlan {
        var flags = ConversionPlan(operation: operation)
        flags.input = input
        flags.output = output
        flags.experts = experts
        flags.topK = topK
        flags.target = target
        flags.format = format
        flags.dtype = dtype
        flags.seed = seed
        flags.settings.router = router
        if let calibration {
            flags.calibration = ConversionPlan.Calibration(file: calibration, tokens: calibrationTokens, field: calibrationField ?? "text")
        }
        return flags
    }

    /// Reads `--plan` (when given), checks its operation and applies the command-line flags over it.
    func merged(_ flags: ConversionPlan) throws -> ConversionPlan {
        guard let plan else {
            guard calibration != nil || (calibrationTokens == nil && calibrationField == nil) else {
                throw ValidationError("--calibration-tokens and --calibration-field need --calibration")
            }
            return flags
        }
        let directory = try RecipeLibrary.locateDirectory(explicit: recipes)
        var loaded = try PlanFile.read(plan, convertersDirectory: directory)
        if flags.target == nil { try loaded.checkTarget(in: try RecipeLibrary(directory: directory)) }
        guard loaded.operation == flags.operation else {
            throw PlanError.invalidField(
                path: plan, field: "/operation", expected: "\"\(flags.operation.rawValue)\" (this is moekit \(flags.operation.rawValue))",
                found: "\"\(loaded.operation.rawValue)\"")
        }
        if calibration == nil, var fromPlan = loaded.calibration {
            fromPlan.tokens = calibrationTokens ?? fromPlan.tokens
            fromPlan.field = calibrationField ?? fromPlan.field
            loaded.calibration = fromPlan
        }
        return loaded.overriding(with: flags)
    }

    /// Reads the plan and flags, then either prints the dry run or writes the output.
    func run(_ flags: ConversionPlan, label: String) throws {
        let plan = try merged(flags)
        var conversion = MoEConversion(plan: plan, recipes: recipes, planFile: self.plan, force: force)
        conversion.maxShardSize = try OutputConventions.shardSize(maxShardSize)
        conversion.allowNoVocab = allowNoVocab
        try conversion.run(dryRun: dryRun, json: json, log: log, label: label)
    }
}
