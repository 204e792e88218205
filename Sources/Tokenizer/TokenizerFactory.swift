import Conversion

/// Builds the tokenizer a model's `tokenizer.ggml.model` calls for.
public enum TokenizerFactory {
    /// The tokenizer for `data`: `gpt2` → `ByteLevelBPETokenizer`, `llama` → `SentencePieceBPETokenizer`.
    /// - Parameter data: tokenizer content as read from GGUF metadata or a Hugging Face `tokenizer.json`.
    /// - Returns: a ready tokenizer.
    /// - Throws: `TokenizerError.unsupportedModel` naming the model for other families (`bert`, `t5`, `rwkv`,
    ///   `no_vocab`, …), or the builders' errors for malformed data.
    public static func make(_ data: TokenizerData) throws(TokenizerError) -> any TextTokenizer {
        switch data.model {
        case "gpt2": return try ByteLevelBPETokenizer(data)
        case "llama": return try SentencePieceBPETokenizer(data)
        default: throw .unsupportedModel(data.model)
        }
    }
}
