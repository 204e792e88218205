import ArgumentParser
import Transforms

extension MoekitCommand {
    /// `moekit upcycle IN OUT --experts N --top-k K …` (or `--plan FILE`).
    struct Upcycle: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sparse upcycling: every expert starts as a copy of the dense MLP, plus a router.",
            discussion: """
                Reads any dense LLaMA GGUF or HF directory, builds each layer's MoE one layer at a time and writes a \
                HF directory or (OUT ending in .gguf) a GGUF file in the --target layout (mixtral, qwen2-moe, olmoe, llama-moe), with a moekit \
                manifest. --granularity G splits each copy into G finer experts (virtual groups; the scale goes into \
                down). --shared-experts S (qwen2-moe: one shared expert of S shards) and --dense-layers (qwen2-moe \
                safetensors: mlp_only_layers) are refused before any output by targets that cannot express them. \
                --plan FILE gives any option, also per layer (docs/transforms.md); flags typed here override the plan.
                """)

        @Argument(help: "Dense input: a .gguf file or a Hugging Face directory (or \"input\" in the plan).")
        var input: String?

        @Argument(help: "Output: a .gguf file, or a Hugging Face directory (any other name) (or \"output\" in the plan).")
        var output: String?

        @OptionGroup var common: MoEOutputOptions

        @Option(parsing: .unconditional, help: "Drop-Upcycling: re-initialise this fraction (0…1) of each expert's neurons. (default: 0)",
            transform: NumberOption.real("--drop-ratio", 0...1, expected: "a fraction in 0…1"))
        var dropRatio: Double?

        @Option(parsing: .unconditional, help: "Add N(0, σ²) noise to every expert weight; σ ≥ 0. (default: 0)",
            transform: NumberOption.real("--noise", 0...Float.greatestFiniteMagnitude, expected: "a standard deviation σ ≥ 0"))
        var noise: Float?

        @Option(parsing: .unconditional, help: "Split every copy into G ≥ 1 finer experts. (default: 1)",
            transform: NumberOption.integer("--granularity", minimum: 1))
        var granularity: Int?

        @Option(parsing: .unconditional, help: "Always-on shared experts S ≥ 0 (targets with a shared expert: qwen2-moe). (default: 0)",
            transform: NumberOption.integer("--shared-experts", minimum: 0))
        var sharedExperts: Int?

        @Option(help: "Layers that keep the dense MLP, e.g. 0,29 or 0-3 (qwen2-moe safetensors: mlp_only_layers).")
        var denseLayers: String?

        func run() throws {
            try reportingErrors {
                var flags = common.flags(.upcycle, input: input, output: output)
                flags.settings.dropRatio = dropRatio
                flags.settings.noise = noise
                flags.granularity = granularity
                flags.sharedExperts = sharedExperts
                if let denseLayers {
                    guard let selection = LayerSelection(parsing: denseLayers) else {
                        throw ValidationError("--dense-layers: expected layer indices and ranges such as 0,29 or 0-3, found '\(denseLayers)'")
                    }
                    flags.denseLayers = selection
                }
                try common.run(flags, label: "upcycle")
            }
        }
    }
}
