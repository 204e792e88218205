import Conversion
import Evaluation
import Foundation
import Runtime
import Tokenizer

/// Loads a model and its tokenizer for the `logits` and `generate` subcommands.
func loadModelAndTokenizer(path: String, recipes: String?) throws -> (LanguageModel, any TextTokenizer) {
    let (model, data) = try LanguageModel.load(path: path, recipesDirectory: recipes)
    guard let data else { throw ModelCommandError.noTokenizer(path: path) }
    return (model, try TokenizerFactory.make(data))
}

/// Builds the tokenizer of `source`.
func makeTokenizer(_ source: ModelSource) throws -> any TextTokenizer {
    guard let data = source.tokenizer else { throw ModelCommandError.noTokenizer(path: source.path) }
    return try TokenizerFactory.make(data)
}

/// `count` scorers over one loaded model (the weights are shared and immutable; each scorer has its own KV caches
/// and scratch), for `EvaluationHarness(scorers:)`.
func makeScorers(_ source: ModelSource, count: Int) throws -> [any TokenScorer] {
    let model = try LanguageModel(config: try ModelConfig(json: source.config), source: source)
    return (0..<max(1, count)).map { _ in ModelScorer(model: model) }
}

/// Reads `--text` or `--file` (exactly one).
func readInputText(text: String?, file: String?) throws -> String {
    switch (text, file) {
    case (let text?, nil): return text
    case (nil, let file?):
        guard let data = FileManager.default.contents(atPath: file) else { throw ModelCommandError.unreadable(path: file) }
        return String(decoding: data, as: UTF8.self)
    default: throw ModelCommandError.inputChoice("--text and --file")
    }
}

/// Errors of the model-running subcommands.
enum ModelCommandError: Error, CustomStringConvertible {
    case noTokenizer(path: String)
    case unreadable(path: String)
    case inputChoice(String)
    case emptyInput

    var description: String {
        switch self {
        case .noTokenizer(let path): return "\(path) carries no tokenizer (GGUF tokenizer.ggml.* keys or tokenizer.json)"
        case .unreadable(let path): return "cannot read \(path)"
        case .inputChoice(let options): return "give exactly one of \(options)"
        case .emptyInput: return "the input text encodes to no tokens"
        }
    }
}
