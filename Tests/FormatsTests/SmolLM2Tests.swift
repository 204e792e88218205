import Foundation
import TensorCore
import TestSupport
import Testing

@testable import Conversion
@testable import Formats
@testable import IOCore

/// Integration tests on the real SmolLM2-135M-Instruct Q4_1 GGUF (fetched by scripts/fetch-smollm2.sh).
@Suite("SmolLM2-135M integration", .serialized, .requiresSmolLM2)
struct SmolLM2Tests {
    @Test("inspect: 272 tensors, architecture llama, 30 blocks")
    func inspect() throws {
        let path = try TestModels.requireSmolLM2()
        let inspection = try CheckpointInspection.inspect(path: path)
        #expect(inspection.format == "gguf")
        #expect(inspection.tensors.count == 272)
        #expect(inspection.architecture == "llama")
        #expect(inspection.blocks == 30)
        // 49152×576 embeddings + 30 × (2·576 + 576·576·2 + 576·192·2 + 3·576·1536) + 576 = 134,515,008.
        let perBlock = 2 * 576 + 576 * 576 * 2 + 576 * 192 * 2 + 3 * 576 * 1536
        #expect(inspection.parameters == 49152 * 576 + 30 * perBlock + 576)
        let json = inspection.json()
        #expect(json["tensors"]?.arrayValue?.count == 272)
        #expect(json["metadata"]?["llama.block_count"] == .integer(30))
    }

    @Test("GGUF -> HF (F32) -> GGUF F32 keeps every dequantized value; config and tokenizer match the GGUF")
    func roundTrip() throws {
        let path = try TestModels.requireSmolLM2()
        let tmp = TemporaryDirectory()
        try ConversionTests.ggufToHF(path, tmp.file("hf"), dtype: .f32, maxShardSize: 200_000_000)
        let config = try JSONParser.parse(try PathUtilities.readBytes(tmp.file("hf/config.json")))
        let source = try GGUFFile(path: path)
        #expect(config["model_type"]?.stringValue == "llama")
        #expect(config["num_hidden_layers"]?.intValue == source.metadata["llama.block_count"]?.intValue.map(Int64.init))
        #expect(config["hidden_size"]?.intValue == 576)
        #expect(config["intermediate_size"]?.intValue == 1536)
        #expect(config["num_attention_heads"]?.intValue == 9)
        #expect(config["num_key_value_heads"]?.intValue == 3)
        #expect(config["max_position_embeddings"]?.intValue == 8192)
        #expect(config["vocab_size"]?.intValue == 49152)
        #expect(config["rope_theta"]?.doubleValue == 100000)
        #expect(config["rms_norm_eps"]?.doubleValue == 1e-5)
        #expect(config["tie_word_embeddings"]?.boolValue == true)
        #expect(config["bos_token_id"]?.intValue == 1)
        #expect(config["eos_token_id"]?.intValue == 2)
        let tokenizer = try JSONParser.parse(try PathUtilities.readBytes(tmp.file("hf/tokenizer.json")))
        #expect(tokenizer["model"]?["vocab"]?.objectValue?.count == 49152)
        #expect(tokenizer["model"]?["merges"]?.arrayValue?.count == 48900)
        #expect(tokenizer["pre_tokenizer"]?["type"]?.stringValue == "Sequence")

        try ConversionTests.hfToGGUF(tmp.file("hf"), tmp.file("back.gguf"), type: .f32)
        let back = try GGUFFile(path: tmp.file("back.gguf"))
        let comparison = try CheckpointComparison.compare(
            try OpenedCheckpoint.open(path), try OpenedCheckpoint.open(tmp.file("back.gguf")))
        #expect(comparison.onlyInFirst.isEmpty && comparison.onlyInSecond.isEmpty)
        #expect(comparison.differences.count == 272)
        #expect(comparison.maxAbsoluteDifference == 0)
        for key in ["llama.context_length", "llama.embedding_length", "llama.feed_forward_length", "llama.block_count",
            "llama.attention.head_count", "llama.attention.head_count_kv", "llama.rope.freq_base",
            "llama.attention.layer_norm_rms_epsilon", "llama.rope.dimension_count", "llama.vocab_size",
            "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
            "tokenizer.ggml.merges", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
            "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id", "tokenizer.chat_template"]
        {
            #expect(source.metadata[key] == back.metadata[key], "\(key)")
        }
    }
}

@Suite("ModelSource: HF-named tensors from any checkpoint", .requiresSmolLM2)
struct ModelSourceTests {
    @Test("GGUF and its HF conversion give the same config and the same HF-layout tensors")
    func ggufAndHFAgree() throws {
        let path = try TestModels.requireSmolLM2()
        let tmp = TemporaryDirectory()
        try ConversionTests.ggufToHF(path, tmp.file("hf"), dtype: .f32)
        let recipes = TestModels.repositoryRoot + "/Converters"
        let fromGGUF = try ModelSource.open(path, recipesDirectory: recipes)
        let fromHF = try ModelSource.open(tmp.file("hf"), recipesDirectory: recipes)
        #expect(fromGGUF.format == "gguf" && fromHF.format == "huggingface")
        #expect(fromGGUF.config == fromHF.config)
        #expect(fromGGUF.tokenizer?.tokens == fromHF.tokenizer?.tokens)
        #expect(Set(fromGGUF.tensorNames) == Set(fromHF.tensorNames))
        for name in ["model.layers.3.self_attn.q_proj.weight", "model.layers.3.self_attn.k_proj.weight", "model.norm.weight"] {
            #expect(try fromGGUF.floats(name) == fromHF.floats(name), "\(name)")
        }
        #expect(throws: ConversionError.self) { try fromGGUF.floats("lm_head.weight") }
    }
}
