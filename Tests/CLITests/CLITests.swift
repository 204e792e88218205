import Foundation
import TestSupport
import Testing

@testable import IOCore

/// Runs the built `moekit` executable (`swift build -c release --product moekit` first; scripts/test.sh does).
@Suite("moekit command line", .serialized)
struct CLITests {
    /// The moekit binary next to the test bundle (or in .build/release).
    /// - Throws: `MissingFixture` when it was not built: a failure, since the build product is no optional fixture.
    static func binary() throws -> String {
        var directory = URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent("moekit").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        let fallback = TestModels.repositoryRoot + "/.build/release/moekit"
        if FileManager.default.isExecutableFile(atPath: fallback) { return fallback }
        throw MissingFixture("moekit binary not found; run `swift build -c release --product moekit` before the tests")
    }

    @Test("inspect --json on SmolLM2 lists 272 tensors of a 30-block llama", .requiresSmolLM2)
    func inspectJSON() throws {
        let moekit = try CLITests.binary()
        let model = try TestModels.requireSmolLM2()
        let (status, output) = try TestModels.run(moekit, ["inspect", model, "--json"])
        #expect(status == 0)
        let json = try JSONParser.parse(output)
        #expect(json["format"]?.stringValue == "gguf")
        #expect(json["architecture"]?.stringValue == "llama")
        #expect(json["blocks"]?.intValue == 30)
        #expect(json["tensors"]?.arrayValue?.count == 272)
        let embedding = json["tensors"]?.arrayValue?.first { $0["name"]?.stringValue == "token_embd.weight" }
        #expect(embedding?["dtype"]?.stringValue == "Q8_0")
        #expect(embedding?["shape"] == .array([.integer(49152), .integer(576)]))
        #expect(json["parameters"]?.intValue ?? 0 > 134_000_000)
        let schema = try JSONParser.parse(try PathUtilities.readBytes(TestModels.repositoryRoot + "/Schemas/inspect.schema.json"))
        #expect(JSONSchemaValidator(schema: schema).validate(json).isEmpty)
    }

    @Test("bad input exits with status 1 and an error naming the file",
        arguments: ["missing", "empty", "garbage", "truncated-gguf"])
    func badInput(kind: String) throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let path = tmp.file("model.gguf")
        switch kind {
        case "missing": break
        case "empty": FileManager.default.createFile(atPath: path, contents: Data())
        case "garbage": FileManager.default.createFile(atPath: path, contents: Data((0..<100).map { UInt8($0 * 7 % 256) }))
        default: FileManager.default.createFile(atPath: path, contents: Data(Array("GGUF".utf8) + [3, 0, 0, 0, 1]))
        }
        let (status, output) = try TestModels.run(moekit, ["inspect", path])
        #expect(status == 1)
        #expect(output.hasPrefix("error: "), "\(output)")
        #expect(output.contains(path), "\(output)")
        #expect(!output.contains("Fatal error"))
    }

    @Test("convert validates --dtype and round-trips a tiny model through the CLI")
    func convert() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        try TinyLlama().writeHFDirectory(tmp.file("hf"))
        let recipes = ["--recipes", TestModels.repositoryRoot + "/Converters"]
        var result = try TestModels.run(moekit, ["convert", tmp.file("hf"), tmp.file("m.gguf"), "--to", "gguf", "--dtype", "q5_k"] + recipes)
        #expect(result.status == 1 && result.output.contains("--dtype"), "\(result.output)")
        result = try TestModels.run(
            moekit, ["convert", tmp.file("hf"), tmp.file("m.gguf"), "--to", "gguf", "--log", tmp.file("log.jsonl")] + recipes)
        #expect(result.status == 0, "\(result.output)")
        result = try TestModels.run(moekit, ["convert", tmp.file("m.gguf"), tmp.file("back"), "--to", "safetensors"] + recipes)
        #expect(result.status == 0, "\(result.output)")
        result = try TestModels.run(moekit, ["compare", tmp.file("hf"), tmp.file("back")])
        #expect(result.status == 0, "\(result.output)")
        let log = try String(contentsOfFile: tmp.file("log.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(log.count == 20)
        let schema = try JSONParser.parse(try PathUtilities.readBytes(TestModels.repositoryRoot + "/Schemas/progress-log.schema.json"))
        for line in log { #expect(JSONSchemaValidator(schema: schema).validate(try JSONParser.parse(String(line))).isEmpty) }
        let last = try JSONParser.parse(String(log.last!))
        #expect(last["tensors_done"]?.intValue == 20)
        #expect(last["bytes_done"] == last["bytes_total"])
    }
}
