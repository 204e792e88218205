import ArgumentParser
import Formats
import Runtime
import TensorCore

extension MoekitCommand {
    /// `moekit logits MODEL (--text T | --file F) --out OUT.safetensors`.
    struct Logits: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the model's logits for every position of a text to a safetensors file.",
            discussion: """
                OUT gets two tensors: `tokens` (I32 [T], the ids of the text, with BOS when the tokenizer adds one) \
                and `logits` (F32 [T, vocab], row t predicting token t+1). A text longer than the model's context \
                (max_position_embeddings) is truncated to its first tokens, with a warning on stderr.
                """)

        @Argument(help: "Model: GGUF file or Hugging Face directory.")
        var model: String

        @Option(help: "Text to score.")
        var text: String?

        @Option(help: "File whose UTF-8 text to score.")
        var file: String?

        @Option(help: "Output safetensors file.")
        var out: String

        @Option(help: recipesOptionHelp)
        var recipes: String?

        @Flag(help: "Replace an existing output file.")
        var force = false

        func validate() throws {
            if (text == nil) == (file == nil) { throw ValidationError("give exactly one of --text and --file") }
        }

        func run() throws {
            try reportingErrors {
                try OutputChecks.check(output: out, inputs: [model] + [file].compactMap { $0 }, force: force, directoryOutput: false)
                Matmul.useSingleThreadedBLAS()
                let input = try readInputText(text: text, file: file)
                let (lm, tokenizer) = try loadModelAndTokenizer(path: model, recipes: recipes)
                var ids = tokenizer.encode(input, addBOS: true, parseSpecial: false)
                guard !ids.isEmpty else { throw ModelCommandError.emptyInput }
                let limit = lm.config.maxPositionEmbeddings
                if ids.count > limit {
                    printError("warning: \(ids.count) tokens exceed the context of \(limit); keeping the first \(limit)")
                    ids = Array(ids.prefix(limit))
                }
                let T = ids.count, V = lm.config.vocabularySize
                let cache = lm.makeCache(capacity: T)
                try lm.forward([(ids, cache)], logits: .all) { logits in
                    let tokens = OutputTensor(name: "tokens", shape: [T], encoding: .dense(.i32), byteCount: 4 * T) { writer in
                        try ids.map { $0.littleEndian }.withUnsafeBytes { try writer.write($0) }
                    }
                    let values = OutputTensor(name: "logits", shape: [T, V], encoding: .dense(.f32), byteCount: 4 * T * V) { writer in
                        try writer.write(UnsafeRawBufferPointer(logits))
                    }
                    try SafetensorsWriter.write(path: out, tensors: [tokens, values], replaceExisting: force)
                }
                printError("wrote \(out): tokens [\(T)], logits [\(T), \(V)]")
            }
        }
    }
}
