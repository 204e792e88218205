import Foundation
import TestSupport
import Testing

@testable import IOCore

/// `moekit tokenize` through the built binary.
@Suite("moekit tokenize", .serialized)
struct TokenizeCommandTests {
    @Test("--json prints llama.cpp's ids; empty text prints []; --no-special keeps special strings as text", .requiresSmolLM2)
    func tokenize() throws {
        let moekit = try CLITests.binary()
        let model = try TestModels.requireSmolLM2()
        let chat = try TestModels.run(moekit, ["tokenize", model, "--text", "<|im_start|>user\nhi<|im_end|>", "--json"])
        #expect(chat.status == 0)
        #expect(try JSONParser.parse(chat.output) == .array([1, 4093, 198, 6004, 2].map { .integer($0) }))
        let empty = try TestModels.run(moekit, ["tokenize", model, "--text", "", "--json"])
        #expect(empty.status == 0 && empty.output.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        let plain = try TestModels.run(moekit, ["tokenize", model, "--text", "<|im_end|>", "--no-special"])
        #expect(plain.status == 0 && !plain.output.split(separator: " ").contains("2"))
        let tmp = TemporaryDirectory()
        let file = tmp.file("input.txt")
        try "Hello world".write(toFile: file, atomically: true, encoding: .utf8)
        let fromFile = try TestModels.run(moekit, ["tokenize", model, "--file", file])
        #expect(fromFile.status == 0 && fromFile.output.trimmingCharacters(in: .whitespacesAndNewlines) == "19556 905")
    }

    @Test("a missing text file or model exits 1 with an error naming it")
    func badInput() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let missingText = tmp.file("missing.txt")
        let model = TestFixtures.smolLM2Path ?? tmp.file("model.gguf")
        let noFile = try TestModels.run(moekit, ["tokenize", model, "--file", missingText])
        #expect(noFile.status == 1 && noFile.output.hasPrefix("error: ") && noFile.output.contains(missingText), "\(noFile.output)")
        let missingModel = tmp.file("missing.gguf")
        let noModel = try TestModels.run(moekit, ["tokenize", missingModel, "--text", "hi"])
        #expect(noModel.status == 1 && noModel.output.contains(missingModel), "\(noModel.output)")
        let neither = try TestModels.run(moekit, ["tokenize", model])
        #expect(neither.status != 0)
    }
}
