import Foundation
import TestSupport
import Testing

/// transformers and gguf-py read what moekit writes for the source families added by recipe: upcycled Mixtral,
/// Qwen2-MoE and Qwen3-MoE directories load with the stock classes and give the dense logits within 1e-4; converted
/// GGUF files read with gguf-py (scripts/crosscheck_families.py). Opt-in: torch and transformers are large.
@Suite("Source families cross-checked with transformers and gguf-py")
struct FamilyCrossCheckTests {
    static let pythonVariable = "MOEKIT_FAMILIES_XCHECK_PYTHON"

    @Test(
        "upcycled Mistral, Qwen2, Qwen3 and Llama-3 models load in transformers with the dense logits; GGUF reads in gguf-py and, when installed, llama.cpp",
        .requiresPython(named: "MOEKIT_FAMILIES_XCHECK_PYTHON", importing: "torch", "transformers", "gguf", "safetensors", "numpy"))
    func familiesMatchTransformers() throws {
        let moekit = try CLITests.binary()
        let python = try #require(ProcessInfo.processInfo.environment[Self.pythonVariable])
        let script = TestModels.repositoryRoot + "/scripts/crosscheck_families.py"
        let (status, output) = try TestModels.run("/usr/bin/env", [python, script, moekit])
        print(output)
        #expect(status == 0, "\(output)")
        #expect(output.contains("\n0 failure(s)"), "\(output)")
        // Each family's checks ran: fixture sanity, one upcycle target and the GGUF read.
        for name in ["tiny_mistral", "tiny_llama3", "tiny_qwen2", "tiny_qwen3"] {
            #expect(output.contains("ok      \(name): transformers"), "\(name) did not run")
            #expect(output.contains("ok      \(name): every GGUF tensor is finite"), "\(name) GGUF not read")
            // llama.cpp (llama-cpp-python) is optional in that Python; when present, dense and MoE GGUFs must load.
            if !output.contains("skip  \(name): llama.cpp") {
                #expect(output.contains("ok      \(name) GGUF: llama.cpp loads"), "\(name): llama.cpp did not load the GGUF")
                #expect(output.contains("GGUF: llama.cpp loads") && output.contains("ok      \(name) → "), "\(name): MoE GGUF")
            }
        }
    }
}
