import Foundation
import TestSupport
import Testing

/// One `moekit train` SGD step (`--optimizer sgd --lr 1 --steps 1 --clip 0 --weight-decay 0`, so new weights =
/// old − gradient) against PyTorch autograd of transformers' own training loss — CE over all B·T targets plus
/// α · `load_balancing_loss_func` — on tiny random `MixtralForCausalLM`, `OlmoeForCausalLM` (q/k norm) and
/// `Qwen2MoeForCausalLM` (shared expert, a dense layer), for α = 0 and 0.1 (scripts/crosscheck_train_step.py).
/// Opt-in: set `MOEKIT_TRAIN_XCHECK_PYTHON` to a Python with torch, transformers, safetensors and numpy.
@Suite("One training step cross-checked with PyTorch autograd on transformers' MoE classes")
struct TrainStepCrossCheckTests {
    @Test(
        "moekit train's SGD step equals old − grad of transformers' CE + α·aux for Mixtral, OLMoE and Qwen2-MoE",
        .requiresPython(named: "MOEKIT_TRAIN_XCHECK_PYTHON", importing: "torch", "transformers", "safetensors", "numpy"))
    func trainStepMatchesTransformers() throws {
        let moekit = try CLITests.binary()
        let python = try #require(ProcessInfo.processInfo.environment[TestFixtures.trainStepCrossCheckPythonVariable])
        let script = TestModels.repositoryRoot + "/scripts/crosscheck_train_step.py"
        let (status, output) = try TestModels.run("/usr/bin/env", [python, script, moekit, TestModels.repositoryRoot])
        print(output)
        #expect(status == 0, "\(output)")
        #expect(output.contains("\n0 failure(s)"), "\(output)")
        // Every model and coefficient was compared tensor by tensor (not skipped by an exception).
        for model in ["mixtral", "olmoe", "qwen2-moe"] {
            for alpha in ["0.0", "0.1"] {
                #expect(output.contains("ok      \(model) α=\(alpha): every tensor within"), "\(model) α=\(alpha) not compared")
            }
            #expect(output.contains("ok      \(model): α = 0.1 changes the router gradients"), "\(model): aux path not exercised")
        }
    }
}
