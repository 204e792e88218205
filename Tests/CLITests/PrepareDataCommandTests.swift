import Foundation
import TestSupport
import Testing

@testable import IOCore

/// `moekit prepare-data` and `moekit inspect DIR` through the built binary, with the tiny model's tokenizer.
@Suite("moekit prepare-data", .serialized)
struct PrepareDataCommandTests {
    /// A tiny HF model directory (its tokenizer is all prepare-data needs) and two small corpora.
    static func fixture(_ tmp: TemporaryDirectory) throws -> (model: String, inputs: [String]) {
        try TinyLlama().writeHFDirectory(tmp.file("model"))
        let alpha = (0..<30).map { "{\"text\": \"the alpha document \($0) says hello there\"}" }.joined(separator: "\n") + "\n"
        try alpha.write(toFile: tmp.file("alpha.jsonl"), atomically: true, encoding: .utf8)
        let beta = (0..<20).map { "beta paragraph \($0)\nwith two lines" }.joined(separator: "\n\n") + "\n"
        try beta.write(toFile: tmp.file("beta.txt"), atomically: true, encoding: .utf8)
        return (tmp.file("model"), [tmp.file("alpha.jsonl"), "b=" + tmp.file("beta.txt")])
    }

    static func schema(_ name: String) throws -> JSONSchemaValidator {
        JSONSchemaValidator(schema: try JSONParser.parse(try PathUtilities.readBytes(TestModels.repositoryRoot + "/Schemas/" + name)))
    }

    @Test("prepare-data writes index.json and a JSONL log that match their schemas; inspect summarises the directory")
    func prepareAndInspect() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let (model, inputs) = try Self.fixture(tmp)
        let out = tmp.file("data")
        let run = try TestModels.run(
            moekit, ["prepare-data"] + inputs + ["--tokenizer", model, "--out", out, "--val-min-docs", "4", "--log", tmp.file("log.jsonl")])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("alpha: train 26 documents") && run.output.contains("b: train 16 documents"), "\(run.output)")
        let index = try JSONParser.parse(try PathUtilities.readBytes(out + "/index.json"))
        #expect(try Self.schema("data-index.schema.json").validate(index).isEmpty)
        #expect(index["domains"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["alpha", "b"])
        #expect(index["tokenizer"]?["eos_id"]?.intValue == 259)
        let log = try String(contentsOfFile: tmp.file("log.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(log.count >= 2)
        let firstRecord = try JSONParser.parse(String(log[0]))
        #expect(firstRecord["event"]?.stringValue == "progress")
        let logSchema = try Self.schema("prepare-data-log.schema.json")
        for line in log { #expect(logSchema.validate(try JSONParser.parse(String(line))).isEmpty, "\(line)") }
        #expect(try JSONParser.parse(String(log.last!))["event"]?.stringValue == "done")
        #expect(try JSONParser.parse(String(log.last!))["documents"]?.intValue == 50)

        let text = try TestModels.run(moekit, ["inspect", out])
        #expect(text.status == 0 && text.output.contains("moekit-data") && text.output.contains("alpha"), "\(text.output)")
        let json = try TestModels.run(moekit, ["inspect", out, "--json"])
        #expect(json.status == 0)
        let inspection = try JSONParser.parse(json.output)
        #expect(try Self.schema("data-inspect.schema.json").validate(inspection).isEmpty)
        let alpha = inspection["domains"]?.arrayValue?.first
        #expect(alpha?["train_documents"]?.intValue == 26 && alpha?["validation_documents"]?.intValue == 4)

        // Existing output without --force: refused, untouched.
        let again = try TestModels.run(moekit, ["prepare-data"] + inputs + ["--tokenizer", model, "--out", out])
        #expect(again.status == 1 && again.output.contains("--force") && again.output.contains(out), "\(again.output)")
        // With --force and a different validation rule: replaced.
        let forced = try TestModels.run(
            moekit, ["prepare-data"] + inputs + ["--tokenizer", model, "--out", out, "--force", "--val-min-docs", "2"])
        #expect(forced.status == 0, "\(forced.output)")
        #expect(try JSONParser.parse(try PathUtilities.readBytes(out + "/index.json"))["validation"]?["min_documents"]?.intValue == 2)
    }

    @Test("bad lines stop with file and line; --skip-bad-lines warns and continues")
    func badLines() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let (model, _) = try Self.fixture(tmp)
        let bad = tmp.file("bad.jsonl")
        try "{\"text\": \"fine\"}\n{\"body\": \"no text\"}\n{\"text\": \"fine again\"}\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let failed = try TestModels.run(moekit, ["prepare-data", bad, "--tokenizer", model, "--out", tmp.file("o")])
        #expect(failed.status == 1)
        #expect(failed.output.contains("error: \(bad):2: field 'text' is missing"), "\(failed.output)")
        #expect(!FileManager.default.fileExists(atPath: tmp.file("o")))
        let skipped = try TestModels.run(moekit, ["prepare-data", bad, "--tokenizer", model, "--out", tmp.file("o"), "--skip-bad-lines"])
        #expect(skipped.status == 0 && skipped.output.contains("skipped 1 bad line"), "\(skipped.output)")
        let empty = tmp.file("empty.jsonl")
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        let none = try TestModels.run(moekit, ["prepare-data", empty, "--tokenizer", model, "--out", tmp.file("e")])
        #expect(none.status == 1 && none.output.contains("\(empty): no documents"), "\(none.output)")
    }
}
