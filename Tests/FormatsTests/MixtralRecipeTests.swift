import Foundation
import TestSupport
import Testing

@testable import Conversion
@testable import Formats
@testable import IOCore
import TensorCore

/// The Mixtral recipe: `{E}` + `stack_experts` through both converters.
@Suite("Mixtral recipe")
struct MixtralRecipeTests {
    /// A tiny Mixtral HF directory built from TinyLlama's tensors: the MLP becomes a router and E experts of width I/E.
    static func writeTinyMixtral(_ directory: String, experts: Int = 4, dtype: DType = .f32) throws {
        var model = TinyLlama()
        model.dtype = dtype
        var rng = SeededGenerator(seed: 99)
        var tensors: [(String, [Int], [Float])] = []
        let width = model.intermediate / experts
        for (name, shape, values) in model.tensors() {
            if name.hasSuffix("mlp.up_proj.weight") || name.hasSuffix("mlp.down_proj.weight") { continue }
            if name.hasSuffix("mlp.gate_proj.weight") {
                let prefix = String(name.dropLast("mlp.gate_proj.weight".count)) + "block_sparse_moe."
                tensors.append((prefix + "gate.weight", [experts, model.hidden], (0..<experts * model.hidden).map { _ in rng.nextFloat(scale: 0.1) }))
                for e in 0..<experts {
                    for (w, shape) in [("w1", [width, model.hidden]), ("w2", [model.hidden, width]), ("w3", [width, model.hidden])] {
                        tensors.append((prefix + "experts.\(e).\(w).weight", shape, (0..<width * model.hidden).map { _ in rng.nextFloat(scale: 0.1) }))
                    }
                }
                continue
            }
            tensors.append((name, shape, values))
        }
        try model.writeHFDirectory(directory)
        let outputs = try tensors.map { t in
            try t.2.withUnsafeBufferPointer { buffer in
                OutputTensor(copying: try TensorView.encoding(buffer, name: t.0, shape: t.1, as: .dense(dtype)))
            }
        }
        try? FileManager.default.removeItem(atPath: directory + "/model.safetensors")
        try ShardedSafetensorsWriter.write(directory: directory, tensors: outputs, maxShardSize: 5_000_000_000)
        var config = model.config().objectValue!
        config["architectures"] = .array([.string("MixtralForCausalLM")])
        config["model_type"] = .string("mixtral")
        config["intermediate_size"] = .integer(Int64(width))
        config["num_local_experts"] = .integer(Int64(experts))
        config["num_experts_per_tok"] = .integer(2)
        try AtomicFileWriter.write(JSONWriter.bytes(.object(config), indent: 2), to: directory + "/config.json")
    }

    @Test("tiny Mixtral HF -> GGUF -> HF is byte-identical; the GGUF has llama.cpp's MoE keys and stacked shapes",
        arguments: [DType.f32, .f16])
    func roundTrip(dtype: DType) throws {
        let tmp = TemporaryDirectory()
        try Self.writeTinyMixtral(tmp.file("hf"), dtype: dtype)
        try ConversionTests.hfToGGUF(tmp.file("hf"), tmp.file("m.gguf"), type: GGMLType(dense: dtype))
        let gguf = try GGUFFile(path: tmp.file("m.gguf"))
        #expect(gguf.metadata["general.architecture"] == .string("llama"))
        #expect(gguf.metadata["llama.expert_count"] == .uint32(4))
        #expect(gguf.metadata["llama.expert_used_count"] == .uint32(2))
        #expect(gguf.metadata["llama.feed_forward_length"] == .uint32(32))
        // ne order: {n_embd, n_ff, E}, {n_ff, n_embd, E}, router {n_embd, E} in F32.
        #expect(gguf.tensor(named: "blk.1.ffn_gate_exps.weight").map { Array($0.shape.reversed()) } == [64, 32, 4])
        #expect(gguf.tensor(named: "blk.1.ffn_up_exps.weight").map { Array($0.shape.reversed()) } == [64, 32, 4])
        #expect(gguf.tensor(named: "blk.1.ffn_down_exps.weight").map { Array($0.shape.reversed()) } == [32, 64, 4])
        #expect(gguf.tensor(named: "blk.0.ffn_gate_inp.weight").map { Array($0.shape.reversed()) } == [64, 4])
        #expect(gguf.tensor(named: "blk.0.ffn_gate_inp.weight")?.encoding.normalized == .dense(.f32))
        #expect(gguf.tensor(named: "blk.0.ffn_gate.weight") == nil)
        #expect(gguf.tensors.count == 1 + (4 + 4 + 2) * 2 + 1)
        // Stack order = expert index: slab 2 of ffn_down_exps is experts.2.w2.
        let hf = try SafetensorsCheckpoint(path: tmp.file("hf"))
        let w2 = try #require(hf.tensor(named: "model.layers.1.block_sparse_moe.experts.2.w2.weight")).floats()
        let stacked = try #require(gguf.tensor(named: "blk.1.ffn_down_exps.weight")).floats()
        #expect(Array(stacked[(2 * w2.count)..<(3 * w2.count)]) == w2)

        try ConversionTests.ggufToHF(tmp.file("m.gguf"), tmp.file("back"), dtype: dtype)
        let original = try PathUtilities.readBytes(tmp.file("hf/model.safetensors"))
        let back = try PathUtilities.readBytes(tmp.file("back/model.safetensors"))
        #expect(original == back)
        let config = try JSONParser.parse(try PathUtilities.readBytes(tmp.file("back/config.json")))
        #expect(config["model_type"]?.stringValue == "mixtral")
        #expect(config["architectures"] == .array([.string("MixtralForCausalLM")]))
        #expect(config["num_local_experts"]?.intValue == 4)
        #expect(config["num_experts_per_tok"]?.intValue == 2)
        #expect(config["intermediate_size"]?.intValue == 32)

        // ModelSource exposes HF names for the llama-MoE GGUF.
        let source = try ModelSource.open(tmp.file("m.gguf"), recipesDirectory: TestModels.repositoryRoot + "/Converters")
        #expect(source.contains("model.layers.0.block_sparse_moe.experts.3.w3.weight"))
        let w3 = try #require(hf.tensor(named: "model.layers.0.block_sparse_moe.experts.3.w3.weight")).floats()
        #expect(try source.floats("model.layers.0.block_sparse_moe.experts.3.w3.weight").values == w3)
    }

    @Test("a dense llama GGUF still picks the llama recipe")
    func denseStillLlama() throws {
        let library = try RecipeLibrary(directory: TestModels.repositoryRoot + "/Converters")
        #expect(try library.recipe(ggufArchitecture: "llama").name == "llama")
        #expect(try library.recipe(ggufArchitecture: "llama", metadata: GGUFMetadata([("llama.expert_count", .uint32(8))])).name == "mixtral")
        #expect(try library.recipe(hfConfig: .object(JSONObject([("model_type", .string("mixtral"))]))).name == "mixtral")
    }
}
