import Formats
import Foundation
import IOCore
import TensorCore

/// Writes small random LLaMA checkpoints in Hugging Face layout, with a byte-level BPE tokenizer, for tests.
public struct TinyLlama {
    public var hidden = 64
    public var heads = 4
    public var kvHeads = 2
    public var intermediate = 128
    public var layers = 2
    public var tiedEmbeddings = true
    public var dtype: DType = .f32
    public var seed: UInt64 = 7

    public init() {}

    /// Byte tokens (GPT-2 byte-to-unicode alphabet) + two merges + two special tokens = 260 tokens.
    public static let vocabularySize = 260

    /// GPT-2's reversible byte → printable character mapping.
    public static func byteToUnicode() -> [Character] {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var mapping = [Int: Int]()
        for b in printable { mapping[b] = b }
        var extra = 0
        for b in 0..<256 where mapping[b] == nil {
            mapping[b] = 256 + extra
            printable.append(b)
            extra += 1
        }
        return (0..<256).map { Character(Unicode.Scalar(UInt32(mapping[$0]!))!) }
    }

    /// HF tensors: name → (shape, values), in state-dict order.
    public func tensors() -> [(name: String, shape: [Int], values: [Float])] {
        var rng = SeededGenerator(seed: seed)
        func random(_ shape: [Int], scale: Float = 0.1) -> [Float] {
            (0..<shape.reduce(1, *)).map { _ in rng.nextFloat(scale: scale) }
        }
        let headDim = hidden / heads
        var result: [(String, [Int], [Float])] = []
        result.append(("model.embed_tokens.weight", [Self.vocabularySize, hidden], random([Self.vocabularySize, hidden])))
        for l in 0..<layers {
            let p = "model.layers.\(l)."
            result.append((p + "self_attn.q_proj.weight", [heads * headDim, hidden], random([heads * headDim, hidden])))
            result.append((p + "self_attn.k_proj.weight", [kvHeads * headDim, hidden], random([kvHeads * headDim, hidden])))
            result.append((p + "self_attn.v_proj.weight", [kvHeads * headDim, hidden], random([kvHeads * headDim, hidden])))
            result.append((p + "self_attn.o_proj.weight", [hidden, heads * headDim], random([hidden, heads * headDim])))
            result.append((p + "mlp.gate_proj.weight", [intermediate, hidden], random([intermediate, hidden])))
            result.append((p + "mlp.up_proj.weight", [intermediate, hidden], random([intermediate, hidden])))
            result.append((p + "mlp.down_proj.weight", [hidden, intermediate], random([hidden, intermediate])))
            result.append((p + "input_layernorm.weight", [hidden], random([hidden], scale: 1).map { 1 + $0 * 0.1 }))
            result.append((p + "post_attention_layernorm.weight", [hidden], random([hidden], scale: 1).map { 1 + $0 * 0.1 }))
        }
        result.append(("model.norm.weight", [hidden], random([hidden], scale: 1).map { 1 + $0 * 0.1 }))
        if !tiedEmbeddings { result.append(("lm_head.weight", [Self.vocabularySize, hidden], random([Self.vocabularySize, hidden]))) }
        return result
    }

    /// config.json contents.
    public func config() -> JSONValue {
        .object(JSONObject([
            ("architectures", .array([.string("LlamaForCausalLM")])), ("model_type", .string("llama")),
            ("hidden_size", .integer(Int64(hidden))), ("intermediate_size", .integer(Int64(intermediate))),
            ("num_hidden_layers", .integer(Int64(layers))), ("num_attention_heads", .integer(Int64(heads))),
            ("num_key_value_heads", .integer(Int64(kvHeads))), ("max_position_embeddings", .integer(256)),
            ("rms_norm_eps", .number(1e-5)), ("rope_theta", .number(10000.0)),
            ("vocab_size", .integer(Int64(Self.vocabularySize))), ("tie_word_embeddings", .bool(tiedEmbeddings)),
            ("hidden_act", .string("silu")), ("bos_token_id", .integer(258)), ("eos_token_id", .integer(259)),
            ("torch_dtype", .string("float32")),
        ]))
    }

    /// tokenizer.json: 256 byte tokens, merges "Ġ t" → 256 and "h e" → 257, specials 258/259.
    public func tokenizerJSON() -> JSONValue {
        let alphabet = Self.byteToUnicode()
        var vocab = JSONObject()
        for (i, c) in alphabet.enumerated() { vocab[String(c)] = .integer(Int64(i)) }
        vocab["Ġt"] = .integer(256)
        vocab["he"] = .integer(257)
        vocab["<s>"] = .integer(258)
        vocab["</s>"] = .integer(259)
        let special: (Int, String) -> JSONValue = { id, content in
            .object(JSONObject([
                ("id", .integer(Int64(id))), ("content", .string(content)), ("single_word", .bool(false)),
                ("lstrip", .bool(false)), ("rstrip", .bool(false)), ("normalized", .bool(false)), ("special", .bool(true)),
            ]))
        }
        let byteLevel = JSONValue.object(JSONObject([
            ("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)), ("trim_offsets", .bool(true)), ("use_regex", .bool(true)),
        ]))
        return .object(JSONObject([
            ("version", .string("1.0")), ("truncation", .null), ("padding", .null),
            ("added_tokens", .array([special(258, "<s>"), special(259, "</s>")])), ("normalizer", .null),
            ("pre_tokenizer", byteLevel), ("post_processor", byteLevel), ("decoder", byteLevel),
            ("model", .object(JSONObject([
                ("type", .string("BPE")), ("dropout", .null), ("unk_token", .null), ("continuing_subword_prefix", .null),
                ("end_of_word_suffix", .null), ("fuse_unk", .bool(false)), ("byte_fallback", .bool(false)),
                ("ignore_merges", .bool(false)), ("vocab", .object(vocab)), ("merges", .array([.string("Ġ t"), .string("h e")])),
            ]))),
        ]))
    }

    /// Writes config.json, model.safetensors (in `dtype`), tokenizer.json and tokenizer_config.json into `directory`.
    public func writeHFDirectory(_ directory: String, maxShardSize: Int = 5_000_000_000) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let outputs = try tensors().map { t in
            try t.values.withUnsafeBufferPointer { buffer in
                OutputTensor(copying: try TensorView.encoding(buffer, name: t.name, shape: t.shape, as: .dense(dtype)))
            }
        }
        try ShardedSafetensorsWriter.write(directory: directory, tensors: outputs, maxShardSize: maxShardSize)
        try AtomicFileWriter.write(JSONWriter.bytes(config(), indent: 2), to: directory + "/config.json")
        try AtomicFileWriter.write(JSONWriter.bytes(tokenizerJSON()), to: directory + "/tokenizer.json")
        let tokenizerConfig = JSONValue.object(JSONObject([
            ("bos_token", .string("<s>")), ("eos_token", .string("</s>")), ("add_bos_token", .bool(false)),
            ("chat_template", .string("{{ messages }}")),
        ]))
        try AtomicFileWriter.write(JSONWriter.bytes(tokenizerConfig), to: directory + "/tokenizer_config.json")
    }
}
