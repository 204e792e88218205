import Foundation
import TensorCore
import TestSupport
import Testing

@testable import Conversion
@testable import Formats
@testable import IOCore

@Suite("HF <-> GGUF conversion on tiny models")
struct ConversionTests {
    static let converters = TestModels.repositoryRoot + "/Converters"

    static func tools() throws -> (RecipeLibrary, PreTokenizerTable) {
        (try RecipeLibrary(directory: converters), try PreTokenizerTable(convertersDirectory: converters))
    }

    static func hfToGGUF(_ directory: String, _ output: String, type: GGMLType? = nil) throws {
        let (library, table) = try tools()
        try HuggingFaceToGGUF(directory: directory, recipes: library, preTokenizers: table).write(to: output, type: type)
    }

    static func ggufToHF(_ input: String, _ directory: String, dtype: DType? = nil, maxShardSize: Int = 5_000_000_000) throws {
        let (library, table) = try tools()
        try GGUFToHuggingFace(gguf: try GGUFFile(path: input), recipes: library, preTokenizers: table)
            .write(to: directory, dtype: dtype, maxShardSize: maxShardSize)
    }

    @Test("safetensors -> GGUF -> safetensors is byte-identical", arguments: [DType.f32, .f16, .bf16])
    func byteIdenticalRoundTrip(dtype: DType) throws {
        let tmp = TemporaryDirectory()
        var model = TinyLlama()
        model.dtype = dtype
        model.tiedEmbeddings = dtype != .f16  // cover both tied and untied
        try model.writeHFDirectory(tmp.file("hf"))
        try Self.hfToGGUF(tmp.file("hf"), tmp.file("m.gguf"), type: GGMLType(dense: dtype))
        try Self.ggufToHF(tmp.file("m.gguf"), tmp.file("back"), dtype: dtype)
        let original = try PathUtilities.readBytes(tmp.file("hf/model.safetensors"))
        let back = try PathUtilities.readBytes(tmp.file("back/model.safetensors"))
        #expect(original == back)
        let config = try JSONParser.parse(try PathUtilities.readBytes(tmp.file("back/config.json")))
        #expect(config["tie_word_embeddings"]?.boolValue == model.tiedEmbeddings)
        #expect(config["num_key_value_heads"]?.intValue == 2)
        #expect(config["rms_norm_eps"]?.doubleValue == 1e-5)
        #expect(config["head_dim"]?.intValue == 16)
    }

    @Test("GGUF gets llama.cpp's key types, permuted Q/K rows, F32 norms and no output.weight when tied")
    func ggufLayout() throws {
        let tmp = TemporaryDirectory()
        let model = TinyLlama()
        try model.writeHFDirectory(tmp.file("hf"))
        try Self.hfToGGUF(tmp.file("hf"), tmp.file("m.gguf"), type: .f16)
        let gguf = try GGUFFile(path: tmp.file("m.gguf"))
        #expect(gguf.metadata["general.architecture"] == .string("llama"))
        #expect(gguf.metadata["llama.context_length"] == .uint32(256))
        #expect(gguf.metadata["llama.block_count"] == .uint32(2))
        #expect(gguf.metadata["llama.attention.head_count_kv"] == .uint32(2))
        #expect(gguf.metadata["llama.attention.layer_norm_rms_epsilon"] == .float32(1e-5))
        #expect(gguf.metadata["llama.rope.dimension_count"] == .uint32(16))
        #expect(gguf.metadata["general.file_type"] == .uint32(1))
        #expect(gguf.metadata["tokenizer.ggml.model"] == .string("gpt2"))
        #expect(gguf.metadata["tokenizer.ggml.pre"] == .string("gpt2"))
        #expect(gguf.metadata["tokenizer.ggml.bos_token_id"] == .uint32(258))
        #expect(gguf.metadata["tokenizer.ggml.merges"] == .array(.string, [.string("Ġ t"), .string("h e")]))
        #expect(gguf.tensor(named: "output.weight") == nil)
        #expect(gguf.tensors.count == 1 + 9 * 2 + 1)
        #expect(gguf.tensor(named: "blk.0.attn_norm.weight")?.encoding.normalized == .dense(.f32))
        #expect(gguf.tensor(named: "blk.0.ffn_up.weight")?.encoding.normalized == .dense(.f16))
        // Q rows: GGUF row h·D + 2i + t holds HF row h·D + t·D/2 + i (D = 16).
        let hf = try SafetensorsCheckpoint(path: tmp.file("hf"))
        let hfQ = try #require(hf.tensor(named: "model.layers.1.self_attn.q_proj.weight")).floats()
        let ggQ = try #require(gguf.tensor(named: "blk.1.attn_q.weight")).floats()
        let cols = model.hidden
        for (h, i, t) in [(0, 0, 1), (2, 3, 0), (3, 7, 1)] {
            let ggRow = h * 16 + 2 * i + t
            let hfRow = h * 16 + t * 8 + i
            let expected = hfQ[(hfRow * cols)..<(hfRow * cols + cols)].map { HalfPrecision.f16ToFloat(HalfPrecision.floatToF16($0)) }
            #expect(Array(ggQ[(ggRow * cols)..<(ggRow * cols + cols)]) == expected)
        }
    }

    @Test("GGUF F32 -> HF -> GGUF keeps every tensor's data, sharded output included")
    func ggufRoundTrip() throws {
        let tmp = TemporaryDirectory()
        var model = TinyLlama()
        model.tiedEmbeddings = false
        try model.writeHFDirectory(tmp.file("hf"))
        try Self.hfToGGUF(tmp.file("hf"), tmp.file("a.gguf"), type: .f32)
        try Self.ggufToHF(tmp.file("a.gguf"), tmp.file("hf2"), maxShardSize: 40_000)
        let files = try FileManager.default.contentsOfDirectory(atPath: tmp.file("hf2"))
        #expect(files.contains("model.safetensors.index.json"))
        #expect(files.contains { $0.hasPrefix("model-00001-of-") })
        try Self.hfToGGUF(tmp.file("hf2"), tmp.file("b.gguf"))
        let a = try GGUFFile(path: tmp.file("a.gguf"))
        let b = try GGUFFile(path: tmp.file("b.gguf"))
        #expect(a.tensors.map(\.name) == b.tensors.map(\.name))
        for (x, y) in zip(a.tensors, b.tensors) {
            #expect(x.shape == y.shape && x.encoding == y.encoding, "\(x.name)")
            #expect(Array(x.bytes) == Array(y.bytes), "\(x.name)")
        }
        for key in ["llama.context_length", "llama.embedding_length", "llama.feed_forward_length", "llama.rope.freq_base",
            "llama.attention.layer_norm_rms_epsilon", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges"]
        {
            #expect(a.metadata[key] == b.metadata[key], "\(key)")
        }
    }

    @Test("Q8_0 output quantizes 2-D weights and keeps norms F32")
    func quantizedOutput() throws {
        let tmp = TemporaryDirectory()
        try TinyLlama().writeHFDirectory(tmp.file("hf"))
        try Self.hfToGGUF(tmp.file("hf"), tmp.file("q.gguf"), type: .q8_0)
        let gguf = try GGUFFile(path: tmp.file("q.gguf"))
        #expect(gguf.tensor(named: "blk.0.ffn_down.weight")?.encoding == .ggml(.q8_0))
        #expect(gguf.tensor(named: "output_norm.weight")?.encoding.normalized == .dense(.f32))
        #expect(gguf.metadata["general.file_type"] == .uint32(7))
        #expect(gguf.metadata["general.quantization_version"] == .uint32(2))
        let hf = try SafetensorsCheckpoint(path: tmp.file("hf"))
        let original = try #require(hf.tensor(named: "model.layers.0.mlp.down_proj.weight")).floats()
        let decoded = try #require(gguf.tensor(named: "blk.0.ffn_down.weight")).floats()
        // Q8_0 rounds x/d with d = amax/127 but decodes with d rounded to f16 (relative error ≤ 2^-11), so the
        // error is at most d/2 + 127·d·2^-11 per element.
        for block in stride(from: 0, to: original.count, by: 32) {
            let d = original[block..<(block + 32)].map(abs).max()! / 127
            for i in block..<(block + 32) { #expect(abs(original[i] - decoded[i]) <= d * (0.5 + 127.0 / 2048) + 1e-7) }
        }
    }

    @Test("bad inputs are typed errors before any output is written")
    func badInputs() throws {
        let tmp = TemporaryDirectory()
        try TinyLlama().writeHFDirectory(tmp.file("hf"))
        // Missing required config field.
        var config = TinyLlama().config().objectValue!
        config["hidden_size"] = nil
        try AtomicFileWriter.write(JSONWriter.bytes(.object(config)), to: tmp.file("hf/config.json"))
        #expect(throws: ConversionError.missingConfigValue(path: tmp.file("hf/config.json"), field: "hidden_size")) {
            try Self.hfToGGUF(tmp.file("hf"), tmp.file("x.gguf"))
        }
        #expect(!FileManager.default.fileExists(atPath: tmp.file("x.gguf")))
        // Shape that contradicts the config.
        config = TinyLlama().config().objectValue!
        config["intermediate_size"] = .integer(96)
        try AtomicFileWriter.write(JSONWriter.bytes(.object(config)), to: tmp.file("hf/config.json"))
        #expect(throws: ConversionError.self) { try Self.hfToGGUF(tmp.file("hf"), tmp.file("x.gguf")) }
        // Unknown architecture.
        config = TinyLlama().config().objectValue!
        config["model_type"] = .string("gpt_neox")
        config["architectures"] = .array([.string("GPTNeoXForCausalLM")])
        try AtomicFileWriter.write(JSONWriter.bytes(.object(config)), to: tmp.file("hf/config.json"))
        #expect(throws: RecipeError.self) { try Self.hfToGGUF(tmp.file("hf"), tmp.file("x.gguf")) }
        #expect(!FileManager.default.fileExists(atPath: tmp.file("x.gguf")))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)
    }

    @Test("an extra tensor the recipe does not know is rejected, naming it")
    func unknownTensor() throws {
        let tmp = TemporaryDirectory()
        try TinyLlama().writeHFDirectory(tmp.file("hf"))
        let file = try SafetensorsFile(path: tmp.file("hf/model.safetensors"))
        var outputs = file.tensors.map { OutputTensor(copying: $0) }
        outputs.append(OutputTensor(copying: TensorView.float32([1, 2], name: "model.layers.0.mlp.extra.weight", shape: [2])))
        try SafetensorsWriter.write(path: tmp.file("hf/model.safetensors"), tensors: outputs)
        #expect(throws: ConversionError.unexpectedTensor(
            path: tmp.file("hf"), tensor: "model.layers.0.mlp.extra.weight",
            hint: "recipe \(Self.converters)/llama.json")) {
            try Self.hfToGGUF(tmp.file("hf"), tmp.file("x.gguf"))
        }
    }

    @Test("GGUF missing a required key or architecture fails naming the key, writing nothing")
    func ggufMissingKeys() throws {
        let tmp = TemporaryDirectory()
        try TinyLlama().writeHFDirectory(tmp.file("hf"))
        try Self.hfToGGUF(tmp.file("hf"), tmp.file("m.gguf"), type: .f32)
        let source = try GGUFFile(path: tmp.file("m.gguf"))
        for key in ["llama.embedding_length", "llama.attention.layer_norm_rms_epsilon", "general.architecture"] {
            var metadata = source.metadata
            metadata[key] = nil
            let broken = tmp.file("broken.gguf")
            try GGUFWriter.write(path: broken, metadata: metadata, tensors: source.tensors.map { OutputTensor(copying: $0) })
            #expect(throws: ConversionError.missingConfigValue(path: broken, field: key)) {
                try Self.ggufToHF(broken, tmp.file("out-\(key)"))
            }
            #expect(!FileManager.default.fileExists(atPath: tmp.file("out-\(key)/config.json")))
        }
        var metadata = source.metadata
        metadata["general.architecture"] = .string("mamba")
        try GGUFWriter.write(path: tmp.file("mamba.gguf"), metadata: metadata, tensors: source.tensors.map { OutputTensor(copying: $0) })
        let known = try RecipeLibrary(directory: TestModels.repositoryRoot + "/Converters").recipes.keys.sorted()
        #expect(known.contains("llama") && known.contains("qwen3"))
        #expect(throws: RecipeError.unknownArchitecture("mamba", known: known)) {
            try Self.ggufToHF(tmp.file("mamba.gguf"), tmp.file("out-mamba"))
        }
    }
}
