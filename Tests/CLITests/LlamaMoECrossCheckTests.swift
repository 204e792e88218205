import Foundation
import TestSupport
import Testing

/// transformers loads moekit's llama-moe output through the modelling code moekit writes into it
/// (`trust_remote_code`), and its logits equal `moekit logits` within 1e-4: splits (random, clustering; rescale none,
/// n-over-k, per layer, exact with multiply_gate_scores false), upcycling, and hand-made LLaMA-MoE directories with
/// unequal expert widths, per-layer score scales, a linear gate and raw logits passed through `moekit convert`, on
/// two tiny models (GQA with tied embeddings; MQA with head_dim ≠ hidden/heads, llama3 RoPE, untied head); also KV
/// cache, greedy generate and a training step (scripts/crosscheck_llama_moe.py). Opt-in: torch and transformers are
/// large.
@Suite("LLaMA-MoE output cross-checked with transformers (remote code)")
struct LlamaMoECrossCheckTests {
    static let pythonVariable = "MOEKIT_FAMILIES_XCHECK_PYTHON"
    static let script = TestModels.repositoryRoot + "/scripts/crosscheck_llama_moe.py"

    @Test(
        "tiny llama-moe outputs load with trust_remote_code and give moekit's logits within 1e-4",
        .requiresPython(named: "MOEKIT_FAMILIES_XCHECK_PYTHON", importing: "torch", "transformers", "safetensors", "numpy"))
    func tinyModelsMatchTransformers() throws {
        let moekit = try CLITests.binary()
        let python = try #require(ProcessInfo.processInfo.environment[Self.pythonVariable])
        let (status, output) = try TestModels.run("/usr/bin/env", [python, Self.script, moekit])
        print(output)
        #expect(status == 0, "\(output)")
        #expect(output.contains("\n0 failure(s)"), "\(output)")
        for model in ["tiny_gqa", "tiny_mqa_llama3"] {
            for label in ["split-random", "split-clustering-n-over-k", "split-plan-per-layer-scale", "split-exact", "upcycle",
                          "unequal-mlp-scale-list", "unequal-linear-raw-logits"] {
                #expect(output.contains("ok      \(model) \(label): transformers LlamaMoEForCausalLM logits = moekit's"),
                        "\(model) \(label) did not run")
            }
        }
        #expect(output.contains("ok      tiny_gqa split-random: greedy generate = greedy full forwards"))
    }

    @Test(
        "SmolLM2 split 8×top-2 into llama-moe: transformers (remote code) logits within 1e-3 of moekit's",
        .requiresSmolLM2,
        .requiresPython(named: "MOEKIT_FAMILIES_XCHECK_PYTHON", importing: "torch", "transformers", "safetensors", "numpy"))
    func smolLM2MatchesTransformers() throws {
        let moekit = try CLITests.binary()
        let python = try #require(ProcessInfo.processInfo.environment[Self.pythonVariable])
        let model = try TestModels.requireSmolLM2()
        let (status, output) = try TestModels.run("/usr/bin/env", [python, Self.script, moekit, "--smollm2", model, "--skip-tiny"])
        print(output)
        #expect(status == 0, "\(output)")
        #expect(output.contains("ok      SmolLM2-135M split 8×top-2 llama-moe: transformers LlamaMoEForCausalLM logits = moekit's"), "\(output)")
    }
}
