import ArgumentParser
import Transforms

extension MoekitCommand {
    /// `moekit split IN OUT --experts N --top-k K --method M …` (or `--plan FILE`).
    struct Split: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Expert construction (LLaMA-MoE): partition each dense MLP's neurons into N experts.",
            discussion: """
                Methods without calibration data: random (seeded shuffle into equal parts) and clustering \
                (balanced k-means on up_proj rows); gradient, coactivation, sharing-inner and sharing-inter read \
                --calibration (docs/calibration.md). --rescale n-over-k, calibrated and exact are folded into \
                down_proj where the target has no scale field (llama-moe keeps score_scale_factor); exact needs --top-k N and --router zero and reproduces the dense model. --plan FILE \
                gives any option, also per layer (docs/transforms.md); flags typed here override the plan.
                """)

        @Argument(help: "Dense input: a .gguf file or a Hugging Face directory (or \"input\" in the plan).")
        var input: String?

        @Argument(help: "Output: a .gguf file, or a Hugging Face directory (any other name) (or \"output\" in the plan).")
        var output: String?

        @OptionGroup var common: MoEOutputOptions

        @Option(help: "Partition method: random, clustering, gradient, coactivation, sharing-inner, sharing-inter. (default: random)")
        var method: String?

        @Option(help: "Rescaling: none, n-over-k, exact or calibrated. (default: none)")
        var rescale: String?

        @Flag(inversion: .prefixedNo, help: "LLaMA-MoE-v2 mean/variance alignment on calibration inputs. (default: off)")
        var align: Bool?

        @Option(parsing: .unconditional, help: "Neurons per expert (≥ 1) for sharing-inner and sharing-inter.",
            transform: NumberOption.integer("--expert-size", minimum: 1))
        var expertSize: Int?

        @Option(parsing: .unconditional, help: "Shared experts (≥ 0) for sharing-inter.", transform: NumberOption.integer("--shared-experts", minimum: 0))
        var sharedExperts: Int?

        func run() throws {
            try reportingErrors {
                var flags = common.flags(.split, input: input, output: output)
                flags.settings.method = method
                flags.settings.rescale = rescale
                flags.settings.align = align
                flags.expertSize = expertSize
                flags.sharedExperts = sharedExperts
                try common.run(flags, label: "split")
            }
        }
    }
}
