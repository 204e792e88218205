import ArgumentParser
import Foundation
import Formats
import TensorCore
import Transforms

/// Options shared by `split` and `upcycle`.
struct MoEOutputOptions: ParsableArguments {
    @Option(help: "Number of routed experts N.")
    var experts: Int

    @Option(help: "Experts per token K.")
    var topK: Int

    @Option(help: "Router init: random (N(0, 0.02)), zero, centroids.")
    var router: String = "random"

    @Option(help: "Seed for every random choice.")
    var seed: UInt64 = 0

    @Option(help: "Target layout: a recipe in Converters/ with a moe section (mixtral, qwen2-moe, olmoe, llama-moe).")
    var target: String = "mixtral"

    @Option(help: "Output format: safetensors (HF directory) or gguf.")
    var format: String = "safetensors"

    @Option(help: "Output type: f32, f16 or bf16.")
    var dtype: String = "f32"

    @Flag(help: "Print parameters (total and active per token) and output size; write nothing.")
    var dryRun = false

    @Flag(help: "With --dry-run: print JSON.")
    var json = false

    @Option(help: "Directory of architecture recipes (default: the repository's Converters/).")
    var recipes: String?

    @Option(help: "Append JSONL progress records to this file.")
    var log: String?

    func routerInit() throws -> RouterInit {
        try RouterInit.validateName(router)
        switch router {
        case "random": return .random(seed: seed)
        case "zero": return .zero
        case "centroids": return .centroids(source: .up)
        default: throw ValidationError("--router \(router) needs calibration data, which split/upcycle do not read yet")
        }
    }

    func outputType() throws -> DType {
        guard let parsed = DType(rawValue: dtype.uppercased()), [.f32, .f16, .bf16].contains(parsed) else {
            throw ValidationError("--dtype: expected f32, f16 or bf16, found '\(dtype)'")
        }
        return parsed
    }

    func outputFormat() throws -> MoEModelWriter.Format {
        guard let parsed = MoEModelWriter.Format(rawValue: format) else {
            throw ValidationError("--format: expected safetensors or gguf, found '\(format)'")
        }
        return parsed
    }

    /// Opens the input, validates, and either prints the dry run or writes the output.
    func run(input: String, output: String, construction: MoEConstruction, denseLayers: Set<Int> = [], label: String) throws {
        let directory = try RecipeLibrary.locateDirectory(explicit: recipes)
        let library = try RecipeLibrary(directory: directory)
        let preTokenizers = try PreTokenizerTable(convertersDirectory: directory)
        let source = try ModelSource(path: input, recipes: library, preTokenizers: preTokenizers)
        let layers = Int(source.config["num_hidden_layers"]?.intValue ?? 0)
        if let bad = denseLayers.first(where: { $0 >= layers }) {
            throw ValidationError("--dense-layers: layer \(bad) does not exist (the model has \(layers) layers)")
        }
        let writer = try MoEModelWriter(
            source: source, library: library, preTokenizers: preTokenizers, target: target,
            layers: MoELayerPlan.uniform(construction, layers: layers, denseLayers: denseLayers),
            dtype: try outputType(), format: try outputFormat(),
            manifestFields: JSONObject([
                ("command", .array(CommandLine.arguments.map { .string($0) })), ("seed", .string(String(seed))),
            ]), deferValidation: dryRun)
        if dryRun {
            let plan = writer.plan()
            if json {
                print(JSONWriter.serialize(plan))
            } else {
                for layer in plan["layers"]?.arrayValue ?? [] {
                    if layer["dense"]?.boolValue == true {
                        print("layer \(layer["layer"]!.intValue!): dense MLP kept, parameters \(layer["total_parameters"]!.intValue!)")
                        continue
                    }
                    let shared = layer["shared_expert_width"]?.intValue ?? 0
                    print("layer \(layer["layer"]!.intValue!): \(layer["experts"]!.intValue!) experts × \(layer["expert_width"]!.intValue!) neurons, "
                        + (shared > 0 ? "+ one shared expert × \(shared), " : "")
                        + "parameters \(layer["total_parameters"]!.intValue!) total, \(layer["active_parameters"]!.intValue!) active")
                }
                print("dense parameters: \(plan["dense_parameters"]!.intValue!)")
                print("MoE parameters: \(plan["total_parameters"]!.intValue!) total, \(plan["active_parameters_per_token"]!.intValue!) active per token")
                print("output: \(ProgressReporter.bytes(Int(plan["output_bytes"]!.intValue!))) (\(plan["format"]!.stringValue!), \(plan["dtype"]!.stringValue!))")
                print("FLOPs per token: dense \(plan["flops_per_token_dense"]!.intValue!), MoE \(plan["flops_per_token_moe"]!.intValue!)")
                let changes = plan["config_changes"]
                let added: [String] = (changes?["added"]?.objectValue?.pairs ?? []).map { "\($0.key)=\(JSONWriter.serialize($0.value))" }
                let changed: [String] = (changes?["changed"]?.objectValue?.pairs ?? []).map(\.key)
                let header = "config (\(plan["target"]?.stringValue ?? ""), routing \(plan["routing"]?.stringValue ?? ""))"
                print(header + ": adds " + added.joined(separator: ", ") + "; changes " + changed.joined(separator: ", "))
                for note in changes?["notes"]?.arrayValue ?? [] { print("note: \(note.stringValue ?? "")") }
                for problem in plan["problems"]?.arrayValue ?? [] { print("problem: \(problem.stringValue ?? "")") }
                print("working memory: about \(ProgressReporter.bytes(Int(plan["working_memory_bytes"]!.intValue!))) (one layer); shards: \(plan["shards"]!.intValue!)")
            }
            return
        }
        let reporter = try ProgressReporter(label: label, logPath: log)
        try writer.write(to: output, progress: { reporter.report($0) })
        printError("wrote \(output)")
    }
}
