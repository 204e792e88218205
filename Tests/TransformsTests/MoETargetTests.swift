import Conversion
import Formats
import Foundation
import IOCore
import Runtime
import TensorCore
import TestSupport
import Testing
import Transforms

/// Model-level MoE output for every target × format: reload through our readers and the runtime, config field
/// names and GGUF types, exactness where the construction is exact, the direct GGUF stream against the old
/// HF-then-convert path, and bad input refused before any output exists.
@Suite("MoE targets", .serialized)
struct MoETargetTests {
    typealias W = MoEModelWriterTests

    static func writer(
        _ input: String, _ layers: [MoELayerPlan], target: String, format: MoEModelWriter.Format, dtype: DType = .f32
    ) throws -> MoEModelWriter {
        let library = try RecipeLibrary(directory: W.converters)
        let table = try PreTokenizerTable(convertersDirectory: W.converters)
        let source = try ModelSource(path: input, recipes: library, preTokenizers: table)
        return try MoEModelWriter(
            source: source, library: library, preTokenizers: table, target: target, layers: layers, dtype: dtype,
            format: format, manifestFields: JSONObject())
    }

    static func upcycle(_ n: Int, _ k: Int, shared: Int = 0) -> MoEConstruction {
        .upcycle(UpcycleOptions(experts: n, topK: k, router: .zero, sharedExperts: shared, seed: 1))
    }

    /// Max |Δlogit| relative to the dense model's largest |logit|.
    static func deviation(_ dense: String, _ moe: String) throws -> (delta: Float, scale: Float, finite: Bool) {
        let d = try W.logits(dense, W.tokens)
        let m = try W.logits(moe, W.tokens)
        let c = LogitComparison(dense: d, moe: m, ids: W.tokens)
        return (Float(c.maxAbsDelta), d.values.map { abs($0) }.max() ?? 1, m.values.allSatisfy(\.isFinite))
    }

    static let cases: [(String, MoEModelWriter.Format)] = [
        ("mixtral", .safetensors), ("mixtral", .gguf), ("qwen2-moe", .safetensors), ("qwen2-moe", .gguf),
        ("olmoe", .safetensors), ("olmoe", .gguf), ("llama-moe", .safetensors),
    ]

    @Test("upcycle N=4 K=2, zero router: reloads, runtime logits exact (OLMoE: finite), target field names and types", arguments: cases)
    func upcycleEveryTarget(target: String, format: MoEModelWriter.Format) throws {
        let tmp = TemporaryDirectory()
        var model = TinyLlama()
        model.kvHeads = 4  // OLMoE GGUF needs n_head_kv == n_head
        try model.writeHFDirectory(tmp.file("dense"))
        let out = tmp.file(format == .gguf ? "moe.gguf" : "moe")
        try Self.writer(tmp.file("dense"), MoELayerPlan.uniform(Self.upcycle(4, 2), layers: 2), target: target, format: format).write(to: out)
        let (delta, scale, finite) = try Self.deviation(tmp.file("dense"), out)
        #expect(finite)
        if target == "olmoe" {
            #expect(delta > 1e-3, "unit q/k RMSNorm is not the identity, so OLMoE cannot be exact (Δ = \(delta))")
            print("olmoe \(format): max |Δlogit| = \(delta) (dense max |logit| \(scale))")
        } else {
            #expect(delta <= 1e-4 * max(scale, 1), "\(target) \(format): max |Δ| = \(delta)")
        }
        if format == .gguf {
            let gguf = try GGUFFile(path: out)
            let arch = try #require(gguf.metadata["general.architecture"]?.stringValue)
            #expect(arch == ["mixtral": "llama", "qwen2-moe": "qwen2moe", "olmoe": "olmoe"][target])
            #expect(gguf.metadata["\(arch).expert_count"] == .uint32(4))
            #expect(gguf.metadata["\(arch).expert_used_count"] == .uint32(2))
            #expect(gguf.metadata["\(arch).context_length"] == .uint32(256))
            #expect(gguf.metadata["\(arch).attention.layer_norm_rms_epsilon"] == .float32(1e-5))
            #expect(gguf.metadata["tokenizer.ggml.model"] == .string("gpt2"))
            #expect(gguf.metadata[Manifest.ggufKey] != nil)
            func ne(_ name: String) -> [Int]? { gguf.tensor(named: name).map { Array($0.shape.reversed()) } }
            #expect(ne("blk.1.ffn_gate_exps.weight") == [64, 128, 4])
            #expect(ne("blk.1.ffn_down_exps.weight") == [128, 64, 4])
            #expect(gguf.tensor(named: "blk.0.ffn_gate_inp.weight")?.encoding.normalized == .dense(.f32))
            switch target {
            case "qwen2-moe":
                #expect(gguf.metadata["qwen2moe.expert_feed_forward_length"] == .uint32(128))
                #expect(gguf.metadata["qwen2moe.expert_shared_feed_forward_length"] == .uint32(128))
                #expect(gguf.metadata["qwen2moe.feed_forward_length"] == .uint32(128))
                #expect(ne("blk.0.attn_q.bias") == [64])
                #expect(ne("blk.0.attn_k.bias") == [64])
                #expect(ne("blk.0.ffn_gate_inp_shexp.weight") == [64])
                // Not zero: llama.cpp computes this sigmoid as silu(z)/z, NaN at z = 0 (docs/transforms.md).
                let gate = try #require(gguf.tensor(named: "blk.1.ffn_gate_inp_shexp.weight"))
                #expect(try gate.floats().allSatisfy { $0 == SharedGateInit.neutralValue })
                #expect(ne("blk.0.ffn_down_shexp.weight") == [128, 64])
                #expect(ne("output.weight") == [64, TinyLlama.vocabularySize])
            case "olmoe":
                #expect(gguf.metadata["olmoe.feed_forward_length"] == .uint32(128))
                #expect(ne("blk.0.attn_q_norm.weight") == [64])
                #expect(ne("blk.0.attn_k_norm.weight") == [64])
                #expect(ne("output.weight") == [64, TinyLlama.vocabularySize])
            default:
                #expect(ne("output.weight") == nil)
            }
        } else {
            let config = try JSONParser.parse(try PathUtilities.readBytes(out + "/config.json"))
            let checkpoint = try SafetensorsCheckpoint(path: out)
            switch target {
            case "qwen2-moe":
                #expect(config["model_type"] == .string("qwen2_moe"))
                #expect(config["architectures"] == .array([.string("Qwen2MoeForCausalLM")]))
                #expect(config["num_experts"] == .integer(4))
                #expect(config["moe_intermediate_size"] == .integer(128))
                #expect(config["intermediate_size"] == .integer(128))
                #expect(config["shared_expert_intermediate_size"] == .integer(128))
                #expect(config["norm_topk_prob"] == .bool(false))
                #expect(config["mlp_only_layers"] == .array([]))
                #expect(checkpoint.tensor(named: "model.layers.0.self_attn.q_proj.bias")?.shape == [64])
                #expect(checkpoint.tensor(named: "model.layers.0.mlp.shared_expert_gate.weight")?.shape == [1, 64])
                let gate = try #require(checkpoint.tensor(named: "model.layers.1.mlp.shared_expert_gate.weight"))
                #expect(try gate.floats().allSatisfy { $0 == SharedGateInit.neutralValue })
                #expect(checkpoint.tensor(named: "model.layers.1.mlp.experts.3.down_proj.weight")?.shape == [64, 128])
            case "olmoe":
                #expect(config["model_type"] == .string("olmoe"))
                #expect(config["num_experts"] == .integer(4))
                #expect(config["intermediate_size"] == .integer(128))
                #expect(config["norm_topk_prob"] == .bool(false))
                #expect(checkpoint.tensor(named: "model.layers.0.self_attn.k_norm.weight")?.shape == [64])
            case "llama-moe":
                #expect(config["model_type"] == .string("llama_moe"))
                #expect(config["architectures"] == .array([.string("LlamaMoEForCausalLM")]))
                #expect(config["num_experts"] == .integer(4))
                #expect(config["num_selects"] == .integer(2))
                let row = JSONValue.array([JSONValue](repeating: .integer(128), count: 4))
                #expect(config["size_experts"] == .array([row, row]))
                #expect(config["score_scale_factor"]?.doubleValue == 1)
                #expect(config["multiply_gate_scores"] == .bool(true))
                #expect(config["gate_network"] == .string("mlp"))
                #expect(config["intermediate_size"] == .integer(128))
                #expect(checkpoint.tensor(named: "model.layers.0.mlp.gate.gate_network.2.weight")?.shape == [4, 4])
                #expect(checkpoint.tensor(named: "model.layers.0.mlp.calculator.experts.weight_down.3")?.shape == [64, 128])
            default:
                #expect(config["num_local_experts"] == .integer(4))
            }
        }
    }

    @Test("llama-moe split K=N with unit weights is exact: multiply_gate_scores false, score_scale_factor 1")
    func llamaMoEExactSplit() throws {
        let tmp = TemporaryDirectory()
        try TinyLlama().writeHFDirectory(tmp.file("dense"))
        let split = MoEConstruction.split(SplitOptions(experts: 4, topK: 4, method: .random(seed: 2), rescale: .exact, router: .zero))
        try Self.writer(tmp.file("dense"), MoELayerPlan.uniform(split, layers: 2), target: "llama-moe", format: .safetensors).write(to: tmp.file("moe"))
        let config = try JSONParser.parse(try PathUtilities.readBytes(tmp.file("moe/config.json")))
        #expect(config["multiply_gate_scores"] == .bool(false))
        #expect(config["score_scale_factor"]?.doubleValue == 1)
        let (delta, scale, _) = try Self.deviation(tmp.file("dense"), tmp.file("moe"))
        #expect(delta <= 1e-4 * max(scale, 1), "max |Δ| = \(delta)")
        // n-over-k keeps the factor as a config field instead of folding it.
        let nk = MoEConstruction.split(SplitOptions(experts: 4, topK: 2, method: .random(seed: 2), rescale: .nOverK))
        try Self.writer(tmp.file("dense"), MoELayerPlan.uniform(nk, layers: 2), target: "llama-moe", format: .safetensors).write(to: tmp.file("nk"))
        let nkConfig = try JSONParser.parse(try PathUtilities.readBytes(tmp.file("nk/config.json")))
        #expect(nkConfig["score_scale_factor"]?.doubleValue == 2)
        #expect(nkConfig["multiply_gate_scores"] == .bool(true))
    }

    @Test("qwen2-moe: shared experts, a dense layer and sharing-inter are exact with a zero router")
    func qwenSharedAndDense() throws {
        let tmp = TemporaryDirectory()
        try TinyLlama().writeHFDirectory(tmp.file("dense"))
        // Upcycle with S = 1 shared expert; layer 0 keeps its dense MLP.
        let plans: [MoELayerPlan] = [.dense, .sparse(Self.upcycle(4, 1, shared: 1))]
        try Self.writer(tmp.file("dense"), plans, target: "qwen2-moe", format: .safetensors).write(to: tmp.file("up"))
        let config = try JSONParser.parse(try PathUtilities.readBytes(tmp.file("up/config.json")))
        #expect(config["mlp_only_layers"] == .array([.integer(0)]))
        #expect(config["shared_expert_intermediate_size"] == .integer(128))
        let checkpoint = try SafetensorsCheckpoint(path: tmp.file("up"))
        #expect(checkpoint.tensor(named: "model.layers.0.mlp.gate_proj.weight") != nil)
        #expect(checkpoint.tensor(named: "model.layers.0.mlp.gate.weight") == nil)
        let up = try Self.deviation(tmp.file("dense"), tmp.file("up"))
        #expect(up.delta <= 1e-4 * max(up.scale, 1), "upcycle + shared: max |Δ| = \(up.delta)")

        // sharing-inter: 2 shared experts of 16 neurons + 6 routed of 16 = 128; K = N, exact rescale.
        let importance = (0..<6).map { e in (0..<128).map { Float(($0 * 7 + e * 13) % 128) } }
        let method = SplitMethod.sharingInter(importance: importance, sharedExperts: 2, expertSize: 16, shareRouted: false)
        let split = MoEConstruction.split(SplitOptions(experts: 6, topK: 6, method: method, rescale: .exact, router: .zero))
        let writer = try Self.writer(tmp.file("dense"), MoELayerPlan.uniform(split, layers: 2), target: "qwen2-moe", format: .gguf)
        #expect(writer.sharedWidth == 32)
        try writer.write(to: tmp.file("inter.gguf"))
        let gguf = try GGUFFile(path: tmp.file("inter.gguf"))
        #expect(gguf.metadata["qwen2moe.expert_shared_feed_forward_length"] == .uint32(32))
        let inter = try Self.deviation(tmp.file("dense"), tmp.file("inter.gguf"))
        #expect(inter.delta <= 1e-4 * max(inter.scale, 1), "sharing-inter: max |Δ| = \(inter.delta)")
    }

    @Test("mixtral GGUF streamed directly equals the HF-then-convert path tensor for tensor and key for key")
    func directGGUFMatchesConvertedHF() throws {
        let tmp = TemporaryDirectory()
        try TinyLlama().writeHFDirectory(tmp.file("dense"))
        let construction = MoEConstruction.upcycle(UpcycleOptions(experts: 4, topK: 2, seed: 9))
        try Self.writer(tmp.file("dense"), MoELayerPlan.uniform(construction, layers: 2), target: "mixtral", format: .gguf).write(to: tmp.file("direct.gguf"))
        let hf = try Self.writer(tmp.file("dense"), MoELayerPlan.uniform(construction, layers: 2), target: "mixtral", format: .safetensors)
        let manifest = try hf.write(to: tmp.file("hf"))
        let library = try RecipeLibrary(directory: W.converters)
        try HuggingFaceToGGUF(directory: tmp.file("hf"), recipes: library, preTokenizers: try PreTokenizerTable(convertersDirectory: W.converters))
            .write(to: tmp.file("old.gguf"), type: .f32, extraMetadata: [(Manifest.ggufKey, .string(JSONWriter.serialize(manifest)))])
        let direct = try GGUFFile(path: tmp.file("direct.gguf"))
        let old = try GGUFFile(path: tmp.file("old.gguf"))
        #expect(direct.tensors.map(\.name) == old.tensors.map(\.name))
        for tensor in old.tensors {
            let mine = try #require(direct.tensor(named: tensor.name))
            #expect(mine.shape == tensor.shape, "\(tensor.name)")
            #expect(mine.encoding.normalized == tensor.encoding.normalized, "\(tensor.name)")
            #expect(try mine.floats() == tensor.floats(), "\(tensor.name)")
        }
        let skip: Set<String> = ["general.name", Manifest.ggufKey]
        #expect(direct.metadata.keys.filter { !skip.contains($0) }.sorted() == old.metadata.keys.filter { !skip.contains($0) }.sorted())
        for key in old.metadata.keys where !skip.contains(key) {
            #expect(direct.metadata[key] == old.metadata[key], "\(key)")
        }
    }

    @Test("bad input fails before any output: unknown target, shared experts on mixtral, dense layers in GGUF, llama-moe GGUF, OLMoE GGUF with GQA")
    func badInput() throws {
        let tmp = TemporaryDirectory()
        try TinyLlama().writeHFDirectory(tmp.file("dense"))
        let dense = tmp.file("dense")
        do {
            _ = try Self.writer(dense, MoELayerPlan.uniform(Self.upcycle(4, 2), layers: 2), target: "deepseek", format: .safetensors)
            Issue.record("expected unknownTarget")
        } catch let error as MoEWriterError {
            #expect(error == .unknownTarget("deepseek", known: ["llama-moe", "mixtral", "olmoe", "qwen2-moe", "qwen3-moe"]))
        }
        #expect(throws: MoEWriterError.unsupportedByTarget("mixtral", option: "--shared-experts", reason: "the layout has no shared expert")) {
            try Self.writer(dense, MoELayerPlan.uniform(Self.upcycle(4, 2, shared: 1), layers: 2), target: "mixtral", format: .safetensors)
        }
        #expect(throws: MoEWriterError.self) {
            try Self.writer(dense, [.dense, .sparse(Self.upcycle(4, 2))], target: "qwen2-moe", format: .gguf)
        }
        #expect(throws: MoEWriterError.self) {
            try Self.writer(dense, [.dense, .sparse(Self.upcycle(4, 2))], target: "mixtral", format: .safetensors)
        }
        do {
            _ = try Self.writer(dense, MoELayerPlan.uniform(Self.upcycle(4, 2), layers: 2), target: "llama-moe", format: .gguf)
            Issue.record("expected noGGUF")
        } catch let error as MoEWriterError {
            #expect(error.description.contains("llama.cpp has no LLaMA-MoE architecture"))
        }
        // TinyLlama has 2 KV heads of 4: OLMoE's k_norm cannot be {n_embd}.
        #expect(throws: ConversionError.self) {
            try Self.writer(dense, MoELayerPlan.uniform(Self.upcycle(4, 2), layers: 2), target: "olmoe", format: .gguf)
        }
        #expect(throws: MoEWriterError.inconsistentLayers(field: "number of experts (layer 0)", first: "4", layer: 1, found: "2")) {
            try Self.writer(dense, [.sparse(Self.upcycle(4, 2)), .sparse(Self.upcycle(2, 2))], target: "mixtral", format: .safetensors)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path) == ["dense"])
    }

    @Test("SmolLM2 → qwen2-moe GGUF, upcycle N=2 K=1 zero router: logits equal the dense model's", .requiresSmolLM2)
    func smolLM2Qwen() throws {
        let smol = try TestModels.requireSmolLM2()
        let tmp = TemporaryDirectory()
        let layers = 30
        let start = Date()
        try Self.writer(smol, MoELayerPlan.uniform(Self.upcycle(2, 1), layers: layers), target: "qwen2-moe", format: .gguf)
            .write(to: tmp.file("moe.gguf"))
        let wrote = Date().timeIntervalSince(start)
        let tokens: [Int32] = [1, 504, 3458, 282, 4649, 314, 253, 1345]
        let dense = try W.logits(smol, tokens)
        let moe = try W.logits(tmp.file("moe.gguf"), tokens)
        let c = LogitComparison(dense: dense, moe: moe, ids: tokens)
        print("SmolLM2 qwen2-moe GGUF: wrote in \(wrote) s, max |Δlogit| = \(c.maxAbsDelta), top-1 agreement \(c.top1Agreement)")
        #expect(c.maxAbsDelta <= 2e-3, "max |Δ| = \(c.maxAbsDelta)")
        #expect(c.top1Agreement == 1)
    }
}

/// `moekit convert` for the new recipes: an HF MoE directory → GGUF → HF gives back every tensor.
@Suite("MoE recipes convert", .serialized)
struct MoERecipeConversionTests {
    @Test("qwen2-moe and olmoe HF → GGUF → HF round-trip tensor for tensor", arguments: ["qwen2-moe", "olmoe"])
    func roundTrip(target: String) throws {
        let tmp = TemporaryDirectory()
        var model = TinyLlama()
        model.kvHeads = 4
        model.tiedEmbeddings = false
        try model.writeHFDirectory(tmp.file("dense"))
        try MoETargetTests.writer(tmp.file("dense"), MoELayerPlan.uniform(MoETargetTests.upcycle(4, 2, shared: target == "qwen2-moe" ? 1 : 0), layers: 2), target: target, format: .safetensors)
            .write(to: tmp.file("moe"))
        let library = try RecipeLibrary(directory: MoEModelWriterTests.converters)
        let table = try PreTokenizerTable(convertersDirectory: MoEModelWriterTests.converters)
        try HuggingFaceToGGUF(directory: tmp.file("moe"), recipes: library, preTokenizers: table).write(to: tmp.file("moe.gguf"), type: .f32)
        try GGUFToHuggingFace(gguf: try GGUFFile(path: tmp.file("moe.gguf")), recipes: library, preTokenizers: table)
            .write(to: tmp.file("back"), dtype: .f32)
        let original = try SafetensorsCheckpoint(path: tmp.file("moe"))
        let back = try SafetensorsCheckpoint(path: tmp.file("back"))
        #expect(Set(original.tensors.map(\.name)) == Set(back.tensors.map(\.name)))
        for tensor in original.tensors {
            let other = try #require(back.tensor(named: tensor.name))
            #expect(other.shape == tensor.shape, "\(tensor.name)")
            #expect(Array(other.bytes) == Array(tensor.bytes), "\(tensor.name)")
        }
        let config = try JSONParser.parse(try PathUtilities.readBytes(tmp.file("back/config.json")))
        #expect(config["model_type"]?.stringValue == (target == "olmoe" ? "olmoe" : "qwen2_moe"))
        #expect(config["norm_topk_prob"] == .bool(false))
    }
}
