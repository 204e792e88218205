import ArgumentParser
import Formats
import Transforms

extension MoekitCommand {
    /// `moekit upcycle IN OUT --experts N --top-k K …`.
    struct Upcycle: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sparse upcycling: every expert starts as a copy of the dense MLP, plus a router.",
            discussion: """
                Reads any dense LLaMA GGUF or HF directory, builds each layer's MoE one layer at a time and writes a \
                HF directory or GGUF file in the --target layout (mixtral, qwen2-moe, olmoe, llama-moe), with a moekit \
                manifest. --granularity G splits each copy into G finer experts (virtual groups; the scale goes into \
                down). --shared-experts S (qwen2-moe: one shared expert of S shards) and --dense-layers (qwen2-moe \
                safetensors: mlp_only_layers) are refused before any output by targets that cannot express them.
                """)

        @Argument(help: "Dense input: a .gguf file or a Hugging Face directory.")
        var input: String

        @Argument(help: "Output: a directory (safetensors) or a .gguf file.")
        var output: String

        @OptionGroup var common: MoEOutputOptions

        @Option(help: "Drop-Upcycling: re-initialise this fraction of each expert's neurons.")
        var dropRatio: Double = 0

        @Option(help: "Add N(0, σ²) noise to every expert weight.")
        var noise: Float = 0

        @Option(help: "Split every copy into G finer experts.")
        var granularity: Int = 1

        @Option(help: "Always-on shared experts S (targets with a shared expert: qwen2-moe).")
        var sharedExperts: Int = 0

        @Option(help: "Comma-separated layers that keep the dense MLP, e.g. 0,29 (qwen2-moe safetensors).")
        var denseLayers: String?

        func run() throws {
            try reportingErrors {
                let dense = try (denseLayers ?? "").split(separator: ",").map { part -> Int in
                    guard let layer = Int(part.trimmingCharacters(in: .whitespaces)), layer >= 0 else {
                        throw ValidationError("--dense-layers: expected comma-separated layer indices, found '\(part)'")
                    }
                    return layer
                }
                let options = UpcycleOptions(
                    experts: common.experts, topK: common.topK, router: try common.routerInit(), dropRatio: dropRatio,
                    noise: noise, granularity: granularity, sharedExperts: sharedExperts, seed: common.seed)
                try common.run(
                    input: input, output: output, construction: .upcycle(options), denseLayers: Set(dense), label: "upcycle")
            }
        }
    }
}
