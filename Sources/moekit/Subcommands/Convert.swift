import ArgumentParser
import Formats
import TensorCore

extension MoekitCommand {
    /// `moekit convert IN OUT --to safetensors|gguf [--dtype …]`.
    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Convert between a GGUF file and a Hugging Face model directory (safetensors).",
            discussion: """
                GGUF → HF writes config.json, safetensors shards and, for byte-level BPE vocabularies, tokenizer.json.
                HF → GGUF reads config.json, the safetensors checkpoint and tokenizer.json. Q/K rows are permuted
                between the two RoPE layouts. Names and config keys come from the recipes in Converters/.
                """)

        enum Target: String, ExpressibleByArgument, CaseIterable {
            case safetensors, gguf
        }

        @Argument(help: "Input: a .gguf file or a Hugging Face model directory.")
        var input: String

        @Argument(help: "Output: a directory (--to safetensors) or a .gguf file (--to gguf).")
        var output: String

        @Option(help: "Output format: safetensors (HF directory) or gguf.")
        var to: Target

        @Option(help: "Output type: f32, f16, bf16 (both targets) or q8_0, q4_0, q4_1 (GGUF). Default: the input's float type.")
        var dtype: String?

        @Option(help: "Largest safetensors shard, e.g. 5GB, 500MB (decimal units as Hugging Face uses).")
        var maxShardSize: String = "5GB"

        @Option(help: "Directory of architecture recipes (default: the repository's Converters/).")
        var recipes: String?

        @Option(help: "Append JSONL progress records to this file.")
        var log: String?

        @Flag(help: "Replace an existing output (the old one is removed only after the new one is complete).")
        var force = false

        func run() throws {
            try reportingErrors {
                let directory = try RecipeLibrary.locateDirectory(explicit: recipes)
                let library = try RecipeLibrary(directory: directory)
                let preTokenizers = try PreTokenizerTable(convertersDirectory: directory)
                guard let shardSize = ByteSize.parse(maxShardSize), shardSize > 0 else {
                    throw ValidationError("--max-shard-size: expected a size such as 5GB or 500MB, found '\(maxShardSize)'")
                }
                try OutputChecks.check(output: output, inputs: [input], force: force, directoryOutput: to == .safetensors)
                let reporter = try ProgressReporter(label: "convert", logPath: log)
                let progress: ConversionProgressHandler = { reporter.report($0) }
                switch to {
                case .safetensors:
                    var type: DType?
                    if let dtype {
                        guard let parsed = DType(rawValue: dtype.uppercased()), [.f32, .f16, .bf16].contains(parsed) else {
                            throw ValidationError("--dtype: expected f32, f16 or bf16 for safetensors output, found '\(dtype)'")
                        }
                        type = parsed
                    }
                    let converter = try GGUFToHuggingFace(gguf: try GGUFFile(path: input), recipes: library, preTokenizers: preTokenizers)
                    try converter.write(to: output, dtype: type, maxShardSize: shardSize, progress: progress, replaceExisting: force)
                case .gguf:
                    var type: GGMLType?
                    if let dtype {
                        guard let parsed = GGMLType(name: dtype), parsed.canQuantize else {
                            throw ValidationError("--dtype: expected f32, f16, bf16, q8_0, q4_0 or q4_1 for GGUF output, found '\(dtype)'")
                        }
                        type = parsed
                    }
                    let converter = try HuggingFaceToGGUF(directory: input, recipes: library, preTokenizers: preTokenizers)
                    let zeroFilled = try converter.zeroFilledTensors()
                    if !zeroFilled.isEmpty {
                        printError(
                            "note: \(zeroFilled.count) all-zero tensor(s) (\(zeroFilled[0])\(zeroFilled.count > 1 ? ", …" : "")) written as "
                                + "\(converter.recipe.name)'s gguf_zero_fill: llama.cpp computes that sigmoid as silu(z)/z, NaN at z = 0; "
                                + "the value keeps sigmoid = 1/2, so the function is unchanged")
                    }
                    try converter.write(to: output, type: type, progress: progress, replaceExisting: force)
                }
                printError("wrote \(output)")
            }
        }
    }
}
