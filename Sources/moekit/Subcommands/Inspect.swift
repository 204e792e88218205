import ArgumentParser
import Conversion
import IOCore
import TrainingData

extension MoekitCommand {
    /// `moekit inspect PATH [--json]`.
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a checkpoint's format, architecture, metadata and tensors.",
            discussion: """
                PATH is a .gguf file, a .safetensors file, a model.safetensors.index.json, a Hugging Face model directory, \
                or a data directory made by `moekit prepare-data` (domains, documents, tokens, tokens per document \
                percentiles, validation sizes).
                """)

        @Argument(help: "Checkpoint file or Hugging Face model directory.")
        var path: String

        @Flag(help: "Print machine-readable JSON (keys: format, architecture, blocks, metadata, tensors, parameters).")
        var json = false

        @Flag(help: "With --json, print long metadata arrays (tokens, merges) in full instead of a summary.")
        var fullArrays = false

        func run() throws {
            if DataInspection.isDataDirectory(path) {
                let inspection = try reportingErrors { DataInspection(try PreparedDataset(directory: path)) }
                print(json ? try inspection.json() : inspection.text())
                return
            }
            let inspection = try reportingErrors { try CheckpointInspection.inspect(path: path, fullArrays: fullArrays) }
            print(json ? JSONWriter.serialize(inspection.json(), indent: 2) : inspection.text())
        }
    }
}
