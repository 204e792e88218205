import Formats
import IOCore
/// A model's tokenizer in the form GGUF stores it (`tokenizer.ggml.*`), convertible to and from Hugging Face's
/// `tokenizer.json` + `tokenizer_config.json` for byte-level BPE (`gpt2`) tokenizers.
public struct TokenizerData: Sendable, Equatable {
    /// GGUF token types (`llama_token_type`).
    public enum TokenType: Int32, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    /// `tokenizer.ggml.model`: `gpt2` (byte-level BPE), `llama` (SentencePiece), `no_vocab`, …
    public var model: String
    /// `tokenizer.ggml.pre`.
    public var pre: String?
    public var tokens: [String]
    public var tokenTypes: [Int32]?
    public var scores: [Float]?
    public var merges: [String]?
    public var bosID: Int?
    public var eosID: Int?
    public var unknownID: Int?
    public var paddingID: Int?
    public var addBOS: Bool?
    public var addEOS: Bool?
    public var addSpacePrefix: Bool?
    public var chatTemplate: String?

    public init(model: String, tokens: [String]) {
        self.model = model
        self.tokens = tokens
    }
}

// MARK: - GGUF

extension TokenizerData {
    /// Reads `tokenizer.ggml.*` keys; nil when the file has no `tokenizer.ggml.model`.
    public init?(gguf metadata: GGUFMetadata, path: String) throws(ConversionError) {
        guard let model = metadata["tokenizer.ggml.model"]?.stringValue else { return nil }
        self.init(model: model, tokens: [])
        func strings(_ key: String) throws(ConversionError) -> [String]? {
            guard let value = metadata[key] else { return nil }
            guard case .array(.string, let items) = value else {
                throw .tokenizer(path: path, field: key, problem: "expected an array of strings")
            }
            return items.compactMap(\.stringValue)
        }
        func id(_ key: String) -> Int? { metadata[key]?.intValue }
        tokens = try strings("tokenizer.ggml.tokens") ?? []
        merges = try strings("tokenizer.ggml.merges")
        if case .array(_, let items)? = metadata["tokenizer.ggml.token_type"] {
            tokenTypes = items.map { Int32(truncatingIfNeeded: $0.intValue ?? 1) }
        }
        if case .array(_, let items)? = metadata["tokenizer.ggml.scores"] {
            scores = items.map { Float($0.doubleValue ?? 0) }
        }
        pre = metadata["tokenizer.ggml.pre"]?.stringValue
        bosID = id("tokenizer.ggml.bos_token_id")
        eosID = id("tokenizer.ggml.eos_token_id")
        unknownID = id("tokenizer.ggml.unknown_token_id")
        paddingID = id("tokenizer.ggml.padding_token_id")
        addBOS = metadata["tokenizer.ggml.add_bos_token"]?.boolValue
        addEOS = metadata["tokenizer.ggml.add_eos_token"]?.boolValue
        addSpacePrefix = metadata["tokenizer.ggml.add_space_prefix"]?.boolValue
        chatTemplate = metadata["tokenizer.chat_template"]?.stringValue
        if let types = tokenTypes, types.count != tokens.count {
            throw .tokenizer(path: path, field: "tokenizer.ggml.token_type", problem: "\(types.count) entries for \(tokens.count) tokens")
        }
    }

    /// The `tokenizer.ggml.*` key-value pairs llama.cpp reads, with the exact types it expects.
    public func ggufPairs() -> [(String, GGUFValue)] {
        var pairs: [(String, GGUFValue)] = [("tokenizer.ggml.model", .string(model))]
        if let pre { pairs.append(("tokenizer.ggml.pre", .string(pre))) }
        if !tokens.isEmpty { pairs.append(("tokenizer.ggml.tokens", .array(.string, tokens.map { .string($0) }))) }
        if let scores { pairs.append(("tokenizer.ggml.scores", .array(.float32, scores.map { .float32($0) }))) }
        if let tokenTypes { pairs.append(("tokenizer.ggml.token_type", .array(.int32, tokenTypes.map { .int32($0) }))) }
        if let merges, !merges.isEmpty { pairs.append(("tokenizer.ggml.merges", .array(.string, merges.map { .string($0) }))) }
        if let bosID { pairs.append(("tokenizer.ggml.bos_token_id", .uint32(UInt32(bosID)))) }
        if let eosID { pairs.append(("tokenizer.ggml.eos_token_id", .uint32(UInt32(eosID)))) }
        if let unknownID { pairs.append(("tokenizer.ggml.unknown_token_id", .uint32(UInt32(unknownID)))) }
        if let paddingID { pairs.append(("tokenizer.ggml.padding_token_id", .uint32(UInt32(paddingID)))) }
        if let addBOS { pairs.append(("tokenizer.ggml.add_bos_token", .bool(addBOS))) }
        if let addEOS { pairs.append(("tokenizer.ggml.add_eos_token", .bool(addEOS))) }
        if let addSpacePrefix { pairs.append(("tokenizer.ggml.add_space_prefix", .bool(addSpacePrefix))) }
        if let chatTemplate { pairs.append(("tokenizer.chat_template", .string(chatTemplate))) }
        return pairs
    }
}

// MARK: - Hugging Face tokenizer.json

extension TokenizerData {
    /// Whether `tokenizer.json` can be produced (byte-level BPE with merges).
    public var isByteLevelBPE: Bool { model == "gpt2" && merges != nil }

    private func token(_ id: Int?) -> String? {
        guard let id, id >= 0, id < tokens.count else { return nil }
        return tokens[id]
    }

    /// Builds `tokenizer.json` (tokenizers library format) for a byte-level BPE vocabulary.
    public func tokenizerJSON(preTokenizers: PreTokenizerTable, path: String) throws(ConversionError) -> JSONValue {
        guard isByteLevelBPE, let merges else {
            throw .tokenizer(path: path, field: "tokenizer.ggml.model", problem: "'\(model)' has no byte-level BPE merges; only gpt2-style tokenizers convert to tokenizer.json")
        }
        var vocab = JSONObject()
        for (id, text) in tokens.enumerated() {
            if vocab.contains(text) {
                throw .tokenizer(path: path, field: "tokenizer.ggml.tokens", problem: "token \(id) duplicates '\(text)'")
            }
            vocab[text] = .integer(Int64(id))
        }
        var added: [JSONValue] = []
        for (id, type) in (tokenTypes ?? []).enumerated()
        where type == TokenType.control.rawValue || type == TokenType.userDefined.rawValue {
            added.append(.object(JSONObject([
                ("id", .integer(Int64(id))), ("content", .string(tokens[id])), ("single_word", .bool(false)),
                ("lstrip", .bool(false)), ("rstrip", .bool(false)),
                ("normalized", .bool(type == TokenType.userDefined.rawValue)),
                ("special", .bool(type == TokenType.control.rawValue)),
            ])))
        }
        let byteLevel = JSONValue.object(JSONObject([
            ("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)), ("trim_offsets", .bool(true)),
            ("use_regex", .bool(true)),
        ]))
        var postProcessor = byteLevel
        if addBOS == true, let bos = token(bosID), let bosID {
            postProcessor = .object(JSONObject([
                ("type", .string("TemplateProcessing")),
                ("single", .array([
                    .object(JSONObject([("SpecialToken", .object(JSONObject([("id", .string(bos)), ("type_id", .integer(0))])))])),
                    .object(JSONObject([("Sequence", .object(JSONObject([("id", .string("A")), ("type_id", .integer(0))])))])),
                ])),
                ("pair", .array([
                    .object(JSONObject([("SpecialToken", .object(JSONObject([("id", .string(bos)), ("type_id", .integer(0))])))])),
                    .object(JSONObject([("Sequence", .object(JSONObject([("id", .string("A")), ("type_id", .integer(0))])))])),
                    .object(JSONObject([("SpecialToken", .object(JSONObject([("id", .string(bos)), ("type_id", .integer(1))])))])),
                    .object(JSONObject([("Sequence", .object(JSONObject([("id", .string("B")), ("type_id", .integer(1))])))])),
                ])),
                ("special_tokens", .object(JSONObject([
                    (bos, .object(JSONObject([("id", .string(bos)), ("ids", .array([.integer(Int64(bosID))])), ("tokens", .array([.string(bos)]))])))
                ]))),
            ]))
        }
        let bpe = JSONObject([
            ("type", .string("BPE")), ("dropout", .null), ("unk_token", token(unknownID).map { .string($0) } ?? .null),
            ("continuing_subword_prefix", .null), ("end_of_word_suffix", .null), ("fuse_unk", .bool(false)),
            ("byte_fallback", .bool(false)), ("ignore_merges", .bool(false)),
            ("vocab", .object(vocab)), ("merges", .array(merges.map { .string($0) })),
        ])
        return .object(JSONObject([
            ("version", .string("1.0")), ("truncation", .null), ("padding", .null),
            ("added_tokens", .array(added)), ("normalizer", .null),
            ("pre_tokenizer", preTokenizers.preTokenizer(named: pre) ?? byteLevel),
            ("post_processor", postProcessor), ("decoder", byteLevel), ("model", .object(bpe)),
        ]))
    }

    /// Builds `tokenizer_config.json` (special tokens, BOS/EOS flags, chat template).
    public func tokenizerConfigJSON(maxLength: Int?) -> JSONValue {
        var config = JSONObject()
        config["add_bos_token"] = .bool(addBOS ?? false)
        config["add_eos_token"] = .bool(addEOS ?? false)
        config["add_prefix_space"] = .bool(false)
        if let t = token(bosID) { config["bos_token"] = .string(t) }
        if let t = token(eosID) { config["eos_token"] = .string(t) }
        if let t = token(unknownID) { config["unk_token"] = .string(t) }
        if let t = token(paddingID) { config["pad_token"] = .string(t) }
        if let chatTemplate { config["chat_template"] = .string(chatTemplate) }
        config["clean_up_tokenization_spaces"] = .bool(false)
        if let maxLength { config["model_max_length"] = .integer(Int64(maxLength)) }
        config["tokenizer_class"] = .string("PreTrainedTokenizerFast")
        return .object(config)
    }

    /// Builds `special_tokens_map.json`.
    public func specialTokensMapJSON() -> JSONValue {
        var map = JSONObject()
        if let t = token(bosID) { map["bos_token"] = .string(t) }
        if let t = token(eosID) { map["eos_token"] = .string(t) }
        if let t = token(unknownID) { map["unk_token"] = .string(t) }
        if let t = token(paddingID) { map["pad_token"] = .string(t) }
        return .object(map)
    }

    /// Reads a byte-level BPE tokenizer from `tokenizer.json` and (optionally) `tokenizer_config.json`.
    ///
    /// - Parameters:
    ///   - vocabularySize: the model's embedding rows; missing ids up to it become `[PAD{i}]` tokens of type
    ///     unused, as llama.cpp's converter does.
    public init(
        tokenizerJSON json: JSONValue, tokenizerConfig: JSONValue?, vocabularySize: Int?,
        preTokenizers: PreTokenizerTable, path: String
    ) throws(ConversionError) {
        guard let model = json["model"], model["type"]?.stringValue == "BPE", let vocab = model["vocab"]?.objectValue else {
            throw .tokenizer(path: path, field: "model.type", problem: "expected a BPE model with a vocab object")
        }
        guard json["decoder"]?["type"]?.stringValue == "ByteLevel" || json["pre_tokenizer"].map(Self.containsByteLevel) == true else {
            throw .tokenizer(path: path, field: "pre_tokenizer", problem: "only byte-level BPE (GPT-2 style) tokenizers are supported")
        }
        var byID: [Int: String] = [:]
        for (text, value) in vocab.pairs {
            guard let id = value.intValue, id >= 0, id < 10_000_000 else {
                throw .tokenizer(path: path, field: "model.vocab.\(text)", problem: "expected a non-negative integer id")
            }
            byID[Int(id)] = text
        }
        var types: [Int: Int32] = [:]
        for entry in json["added_tokens"]?.arrayValue ?? [] {
            guard let id = entry["id"]?.intValue, let content = entry["content"]?.stringValue, id >= 0, id < 10_000_000 else {
                throw .tokenizer(path: path, field: "added_tokens", problem: "every entry needs an integer id and a content string")
            }
            byID[Int(id)] = content
            types[Int(id)] = entry["special"]?.boolValue == true ? TokenType.control.rawValue : TokenType.userDefined.rawValue
        }
        let count = max(vocabularySize ?? 0, (byID.keys.max() ?? -1) + 1)
        var tokens: [String] = []
        var tokenTypes: [Int32] = []
        tokens.reserveCapacity(count)
        for id in 0..<count {
            if let text = byID[id] {
                tokens.append(text)
                tokenTypes.append(types[id] ?? TokenType.normal.rawValue)
            } else {
                tokens.append("[PAD\(id)]")
                tokenTypes.append(TokenType.unused.rawValue)
            }
        }
        self.init(model: "gpt2", tokens: tokens)
        self.tokenTypes = tokenTypes
        var merges: [String] = []
        for entry in model["merges"]?.arrayValue ?? [] {
            if let text = entry.stringValue {
                merges.append(text)
            } else if let pair = entry.arrayValue, pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue {
                merges.append(a + " " + b)
            } else {
                throw .tokenizer(path: path, field: "model.merges", problem: "expected \"a b\" strings or [a, b] pairs")
            }
        }
        self.merges = merges
        pre = json["pre_tokenizer"].flatMap { preTokenizers.name(matching: $0) } ?? "default"
        let index = Dictionary(tokens.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        func tokenID(_ field: String) -> Int? {
            guard let value = tokenizerConfig?[field] else { return nil }
            let text = value.stringValue ?? value["content"]?.stringValue
            return text.flatMap { index[$0] }
        }
        bosID = tokenID("bos_token")
        eosID = tokenID("eos_token")
        unknownID = tokenID("unk_token")
        paddingID = tokenID("pad_token")
        addBOS = tokenizerConfig?["add_bos_token"]?.boolValue ?? false
        addEOS = tokenizerConfig?["add_eos_token"]?.boolValue
        chatTemplate = tokenizerConfig?["chat_template"]?.stringValue
    }

    private static func containsByteLevel(_ value: JSONValue) -> Bool {
        if value["type"]?.stringValue == "ByteLevel" { return true }
        return value["pretokenizers"]?.arrayValue?.contains(where: containsByteLevel) ?? false
    }
}
