import ArgumentParser
import Conversion
import Formats
import IOCore
import TensorCore

extension MoekitCommand {
    /// `moekit convert IN OUT [--to safetensors|gguf] [--dtype …]`.
    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Convert a GGUF file or Hugging Face model directory to GGUF or HF, or cast/requantize/reshard within a format.",
            discussion: """
                The output format follows OUT: a name ending in .gguf is a GGUF file, anything else a Hugging Face \
                directory (--to, when given, must agree). GGUF → HF writes config.json, safetensors shards, \
                generation_config.json and, for byte-level BPE vocabularies, tokenizer.json. HF → GGUF reads \
                config.json, the safetensors checkpoint and tokenizer.json. Q/K rows are permuted between the two RoPE \
                layouts; names and config keys come from the recipes in Converters/. GGUF → GGUF casts or requantizes \
                (vectors and the recipe's keep_f32 tensors stay F32); HF → HF casts the float tensors and reshards \
                (--max-shard-size), carrying config, tokenizer and generation files over. The output may not be the input.
                """)

        @Argument(help: "Input: a .gguf file or a Hugging Face model directory.")
        var input: String

        @Argument(help: "Output: a .gguf file, or a Hugging Face directory (any other name).")
        var output: String

        @Option(name: [.customLong("to"), .customLong("format")], help: "Output format: safetensors (HF directory) or gguf. (default: from OUT's extension)")
        var to: String?

        @Option(help: "Output type: f32|float32, f16|float16, bf16|bfloat16, or for GGUF q8_0, q4_0, q4_1. (default: the input's float type; F16 for a quantized input)")
        var dtype: String?

        @Option(help: "Largest safetensors shard, e.g. 5GB, 500MB (decimal units as Hugging Face uses).")
        var maxShardSize: String = "5GB"

        @Flag(help: "Write a GGUF even when the input has no vocabulary (tokenizer.ggml.model = no_vocab).")
        var allowNoVocab = false

        @Option(help: recipesOptionHelp)
        var recipes: String?

        @Option(help: "Append JSONL progress records to this file.")
        var log: String?

        @Flag(help: "Replace an existing output (the old one is removed only after the new one is complete).")
        var force = false

        func run() throws {
            try reportingErrors {
                let target = try OutputConventions.checkedFormat(output: output, explicit: to, option: "--to", inputs: [input], force: force)
                let shardSize = try OutputConventions.shardSize(maxShardSize)
                var floatType: DType?
                var ggufType: GGMLType?
                if let dtype {
                    if target == .safetensors {
                        floatType = try OutputConventions.parseFloat(dtype, context: " for a Hugging Face directory (q8_0, q4_0, q4_1 need a .gguf output)")
                    } else {
                        ggufType = try OutputConventions.parseGGUF(dtype)
                    }
                }
                try OutputChecks.check(output: output, inputs: [input], force: force, directoryOutput: target == .safetensors)
                let directory = try RecipeLibrary.locateDirectory(explicit: recipes)
                let library = try RecipeLibrary(directory: directory)
                let preTokenizers = try PreTokenizerTable(convertersDirectory: directory)
                let inputIsGGUF = try !PathUtilities.isDirectory(input) && CheckpointInspection.isGGUF(input)
                let reporter = try ProgressReporter(label: "convert", logPath: log)
                let progress: ConversionProgressHandler = { reporter.report($0) }
                switch (inputIsGGUF, target) {
                case (true, .safetensors):
                    let converter = try GGUFToHuggingFace(gguf: try GGUFFile(path: input), recipes: library, preTokenizers: preTokenizers)
                    try converter.write(to: output, dtype: floatType, maxShardSize: shardSize, progress: progress, replaceExisting: force)
                case (false, .safetensors):
                    let converter = try HuggingFaceRetype(directory: input, recipes: library)
                    try converter.write(to: output, dtype: floatType, maxShardSize: shardSize, progress: progress, replaceExisting: force)
                case (true, .gguf):
                    let converter = try GGUFRetype(gguf: try GGUFFile(path: input), recipes: library)
                    try OutputConventions.requireVocabulary(converter.hasVocabulary, input: input, allowed: allowNoVocab)
                    try converter.write(to: output, type: ggufType, progress: progress, replaceExisting: force)
                case (false, .gguf):
                    let converter = try HuggingFaceToGGUF(directory: input, recipes: library, preTokenizers: preTokenizers)
                    let tokenizer = try converter.tokenizer(vocabularySize: try converter.vocabularySize())
                    try OutputConventions.requireVocabulary(tokenizer != nil, input: input, allowed: allowNoVocab)
                    let zeroFilled = try converter.zeroFilledTensors()
                    if !zeroFilled.isEmpty {
                        printError(
                            "note: \(zeroFilled.count) all-zero tensor(s) (\(zeroFilled[0])\(zeroFilled.count > 1 ? ", …" : "")) written as "
                                + "\(converter.recipe.name)'s gguf_zero_fill: llama.cpp computes that sigmoid as silu(z)/z, NaN at z = 0; "
                                + "the value keeps sigmoid = 1/2, so the function is unchanged")
                    }
                    try converter.write(to: output, type: ggufType, progress: progress, replaceExisting: force)
                }
                printError("wrote \(output)")
            }
        }
    }
}
