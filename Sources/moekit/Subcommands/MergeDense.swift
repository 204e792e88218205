import ArgumentParser
import Formats
import Transforms

extension MoekitCommand {
    /// `moekit merge-dense MOE OUT`.
    struct MergeDense: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "merge-dense",
            abstract: "Undo a non-overlapping split: concatenate the experts back into a dense LLaMA HF directory.",
            discussion: "Uses the moekit manifest's neuron→expert assignment; a split without rescaling round-trips bit for bit.")

        @Argument(help: "The MoE model written by moekit split (HF directory or GGUF).")
        var moe: String

        @Argument(help: "Output HF directory.")
        var output: String

        @Option(help: "Directory of conversion recipes.")
        var recipes: String?

        @Flag(help: "Replace an existing output (the old one is removed only after the new one is complete).")
        var force = false

        func run() throws {
            try reportingErrors {
                try OutputChecks.check(output: output, inputs: [moe], force: force, directoryOutput: true)
                try DenseMerge.write(moePath: moe, output: output, recipesDirectory: recipes, replaceExisting: force)
                printError("wrote \(output)")
            }
        }
    }
}
