import Formats
import IOCore
/// The files of a Hugging Face model directory besides config.json and the weights: tokenizer files and the
/// generation config, copied from an HF source or produced from a GGUF vocabulary.
public enum HuggingFaceSideFiles {
    /// Tokenizer and generation files an HF source directory may hold, copied as they are.
    public static let copiedNames = [
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "tokenizer.model",
    ]

    /// The files of `copiedNames` that exist in `directory`, read now (before anything is written).
    public static func copied(from directory: String) throws -> [HuggingFaceDirectoryWriter.SideFile] {
        try copiedNames.compactMap { name in
            let path = PathUtilities.join(directory, name)
            guard PathUtilities.exists(path) else { return nil }
            return HuggingFaceDirectoryWriter.SideFile(name: name, bytes: try PathUtilities.readBytes(path))
        }
    }

    /// `generation_config.json` (BOS/EOS ids when known) and, for a byte-level BPE vocabulary, `tokenizer.json`,
    /// `tokenizer_config.json` and `special_tokens_map.json`, as `moekit convert` writes them from GGUF metadata.
    /// - Throws: `ConversionError.tokenizer` for a vocabulary that cannot become tokenizer.json (duplicate tokens,
    ///   no merges), before any file is written.
    public static func fromTokenizer(
        _ tokenizer: TokenizerData?, preTokenizers: PreTokenizerTable, path: String, maxLength: Int?
    ) throws -> [HuggingFaceDirectoryWriter.SideFile] {
        var generation = JSONObject([("_from_model_config", .bool(true))])
        if let bos = tokenizer?.bosID { generation["bos_token_id"] = .integer(Int64(bos)) }
        if let eos = tokenizer?.eosID { generation["eos_token_id"] = .integer(Int64(eos)) }
        var files = [HuggingFaceDirectoryWriter.SideFile(name: "generation_config.json", json: .object(generation))]
        if let tokenizer, tokenizer.isByteLevelBPE {
            files.append(.init(name: "tokenizer.json", json: try tokenizer.tokenizerJSON(preTokenizers: preTokenizers, path: path)))
            files.append(.init(name: "tokenizer_config.json", json: tokenizer.tokenizerConfigJSON(maxLength: maxLength)))
            files.append(.init(name: "special_tokens_map.json", json: tokenizer.specialTokensMapJSON()))
        }
        return files
    }
}
