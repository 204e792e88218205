import ArgumentParser
import Conversion
import Formats
import IOCore

extension MoekitCommand {
    /// `moekit compare A B [--json]`.
    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare the decoded values of same-named tensors in two checkpoints.",
            discussion: """
                Exits with status 1 when names, shapes or values differ by more than --tolerance. A GGUF compared with \
                a safetensors checkpoint is read under its Hugging Face names and layout (Q/K rows un-permuted, \
                stacked experts split) through the recipes in Converters/, so a GGUF and its own conversion compare \
                tensor by tensor.
                """)

        @Argument(help: "First checkpoint (.gguf, .safetensors or HF directory).")
        var first: String

        @Argument(help: "Second checkpoint.")
        var second: String

        @Option(parsing: .unconditional, help: "Largest accepted absolute difference, ≥ 0.",
            transform: NumberOption.real("--tolerance", 0...Float.infinity, expected: "an absolute difference ≥ 0"))
        var tolerance: Float = 0

        @Option(help: recipesOptionHelp)
        var recipes: String?

        @Flag(help: "Print a JSON report.")
        var json = false

        func run() throws {
            var mapped: String?
            let result = try reportingErrors {
                let a = try OpenedCheckpoint.open(first)
                let b = try OpenedCheckpoint.open(second)
                guard a.format != b.format else { return try CheckpointComparison.compare(a, b) }
                let directory = try RecipeLibrary.locateDirectory(explicit: recipes)
                let library = try RecipeLibrary(directory: directory)
                let preTokenizers = try PreTokenizerTable(convertersDirectory: directory)
                func tensors(_ checkpoint: OpenedCheckpoint) throws -> [ComparableTensor] {
                    guard let gguf = checkpoint.owner as? GGUFFile else { return ComparableTensor.stored(checkpoint) }
                    mapped = checkpoint.path
                    return try ComparableTensor.huggingFaceNamed(gguf, recipes: library, preTokenizers: preTokenizers)
                }
                return try CheckpointComparison.compare(try tensors(a), try tensors(b))
            }
            let ok = result.onlyInFirst.isEmpty && result.onlyInSecond.isEmpty && result.maxAbsoluteDifference <= tolerance
            if json {
                let report = JSONValue.object(JSONObject([
                    ("equal_within_tolerance", .bool(ok)), ("tensors_compared", .integer(Int64(result.differences.count))),
                    ("names_mapped_from_gguf", mapped.map { .string($0) } ?? .null),
                    ("max_abs_difference", .number(Double(result.maxAbsoluteDifference))),
                    ("only_in_first", .array(result.onlyInFirst.map { .string($0) })),
                    ("only_in_second", .array(result.onlyInSecond.map { .string($0) })),
                ]))
                print(JSONWriter.serialize(report, indent: 2))
            } else {
                if let mapped { print("names: \(mapped) read under Hugging Face names through its recipe") }
                print("tensors compared: \(result.differences.count)")
                print("max |a - b|:      \(result.maxAbsoluteDifference)")
                if !result.onlyInFirst.isEmpty { print("only in \(first): \(result.onlyInFirst.joined(separator: ", "))") }
                if !result.onlyInSecond.isEmpty { print("only in \(second): \(result.onlyInSecond.joined(separator: ", "))") }
                for d in result.differences.sorted(by: { $0.maxAbsoluteDifference > $1.maxAbsoluteDifference }).prefix(5)
                where d.maxAbsoluteDifference > 0 {
                    print("  \(d.name): \(d.shapesMatch ? String(d.maxAbsoluteDifference) : "shape differs")")
                }
                print(ok ? "equal within tolerance \(tolerance)" : "DIFFERENT")
            }
            if !ok { throw ExitCodeError.failure }
        }
    }
}
