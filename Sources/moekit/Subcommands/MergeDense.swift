import ArgumentParser
import TensorCore
import Transforms

extension MoekitCommand {
    /// `moekit merge-dense MOE OUT`.
    struct MergeDense: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "merge-dense",
            abstract: "Undo a non-overlapping split: concatenate the experts back into a dense HF directory of the source family.",
            discussion: """
                Uses the moekit manifest's neuron→expert assignment; a split without rescaling round-trips bit for bit. \
                Router tensors (and LLaMA-MoE's gate_network.2 and weight_noise) are not written; tokenizer files and \
                generation_config.json are copied from an HF split or produced from a GGUF split's vocabulary. \
                The output is always a Hugging Face directory: for a GGUF, run moekit convert OUT dense.gguf afterwards.
                """)

        @Argument(help: "The MoE model written by moekit split (HF directory or GGUF).")
        var moe: String

        @Argument(help: "Output Hugging Face directory (a name ending in .gguf is refused).")
        var output: String

        @Option(help: "Output type: f32|float32, f16|float16 or bf16|bfloat16. (default: the dense model's torch_dtype recorded in the manifest)")
        var dtype: String?

        @Option(help: "Largest safetensors shard, e.g. 5GB, 500MB (decimal units as Hugging Face uses).")
        var maxShardSize: String = "5GB"

        @Option(help: recipesOptionHelp)
        var recipes: String?

        @Flag(help: "Replace an existing output (the old one is removed only after the new one is complete).")
        var force = false

        func run() throws {
            try reportingErrors {
                guard OutputConventions.implied(by: output) == .safetensors else {
                    throw ValidationError(
                        "\(output): merge-dense writes a Hugging Face directory, but a name ending in .gguf means a GGUF file; "
                            + "write a directory, then run moekit convert DIR \(output)")
                }
                let type = try dtype.map { try OutputConventions.parseFloat($0) }
                let shardSize = try OutputConventions.shardSize(maxShardSize)
                try OutputChecks.check(output: output, inputs: [moe], force: force, directoryOutput: true)
                try DenseMerge.write(
                    moePath: moe, output: output, recipesDirectory: recipes, dtype: type, maxShardSize: shardSize, replaceExisting: force)
                printError("wrote \(output)")
            }
        }
    }
}
