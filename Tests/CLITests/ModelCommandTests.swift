import Foundation
import TestSupport
import Testing

@testable import Formats

/// `moekit logits` and `moekit generate` on the SmolLM2 test model (skipped without it), and their input errors.
@Suite("moekit logits / generate", .serialized)
struct ModelCommandTests {
    @Test("logits writes tokens [T] and logits [T, vocab]; ' Paris' tops the last row", .requiresSmolLM2)
    func logitsFile() throws {
        let moekit = try CLITests.binary()
        let model = try TestModels.requireSmolLM2()
        let directory = TemporaryDirectory()
        let out = directory.path + "/logits.safetensors"
        let (status, output) = try TestModels.run(moekit, ["logits", model, "--text", "The capital of France is", "--out", out])
        #expect(status == 0, "\(output)")
        let file = try SafetensorsFile(path: out)
        let tokens = try #require(file.tensor(named: "tokens"))
        let logits = try #require(file.tensor(named: "logits"))
        #expect(tokens.encoding == .dense(.i32) && tokens.shape == [5])
        #expect(logits.encoding == .dense(.f32) && logits.shape == [5, 49152])
        let values = try logits.floats()
        let last = values[(4 * 49152)...]
        #expect(last.firstIndex(of: last.max()!)! - 4 * 49152 == 7042)
    }

    @Test("generate streams a greedy continuation: ' Paris.'", .requiresSmolLM2)
    func generateParis() throws {
        let moekit = try CLITests.binary()
        let model = try TestModels.requireSmolLM2()
        let (status, output) = try TestModels.run(moekit, ["generate", model, "--prompt", "The capital of France is", "--max-tokens", "4"])
        #expect(status == 0)
        #expect(output.hasPrefix("The capital of France is Paris."), "\(output)")
    }

    @Test("Bad input: no text, both inputs, empty text, missing file, negative max tokens", .requiresSmolLM2)
    func badInput() throws {
        let moekit = try CLITests.binary()
        let model = try TestModels.requireSmolLM2()
        let directory = TemporaryDirectory()
        let out = directory.path + "/x.safetensors"
        let cases: [[String]] = [
            ["logits", model, "--out", out],
            ["logits", model, "--text", "", "--out", out],
            ["logits", model, "--text", "a", "--file", "/nonexistent", "--out", out],
            ["logits", model, "--file", directory.path + "/missing.txt", "--out", out],
            ["generate", model, "--prompt", "hi", "--max-tokens", "-3"],
            ["logits", directory.path + "/no-such-model.gguf", "--text", "a", "--out", out],
        ]
        for arguments in cases {
            let (status, output) = try TestModels.run(moekit, arguments)
            #expect(status != 0, "\(arguments): \(output)")
            #expect(!output.isEmpty)
        }
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
