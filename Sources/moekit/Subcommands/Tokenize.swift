import ArgumentParser
import Conversion
import Foundation
import Tokenizer

extension MoekitCommand {
    /// `moekit tokenize MODEL (--text T | --file F) [--json] [--no-special]`.
    struct Tokenize: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the token ids of a text under a model's tokenizer.",
            discussion: """
                MODEL is a .gguf file or a Hugging Face model directory. Byte-level BPE (gpt2) and SentencePiece BPE \
                (llama) tokenizers are supported; ids match llama.cpp's. Special-token strings such as <|im_start|> \
                map to their ids unless --no-special. BOS/EOS are added when the model's configuration asks for them.
                """)

        @Argument(help: "Model: a .gguf file or a Hugging Face model directory.")
        var model: String

        @Option(help: "Text to tokenize.")
        var text: String?

        @Option(help: "File whose contents (UTF-8) to tokenize.")
        var file: String?

        @Flag(help: "Print a JSON array of ids instead of space-separated ids.")
        var json = false

        @Flag(help: "Treat special-token strings in the text as plain text.")
        var noSpecial = false

        @Option(help: recipesOptionHelp)
        var recipes: String?

        func validate() throws {
            guard (text == nil) != (file == nil) else { throw ValidationError("give exactly one of --text or --file") }
        }

        func run() throws {
            let ids = try reportingErrors { () throws -> [Int32] in
                let input = try readInputText(text: text, file: file)
                let tokenizer = try makeTokenizer(try ModelSource.open(model, recipesDirectory: recipes))
                return tokenizer.encode(input, addBOS: true, parseSpecial: !noSpecial)
            }
            let list = ids.map(String.init)
            print(json ? "[" + list.joined(separator: ", ") + "]" : list.joined(separator: " "))
        }
    }
}
