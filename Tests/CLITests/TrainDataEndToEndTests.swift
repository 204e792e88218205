import Foundation
import TestSupport
import Testing

@testable import IOCore

/// The product's main job end to end on real data: SmolLM2 split into 8 experts (top-2), the shared six-domain
/// corpus prepared into Megatron indexed datasets, then short `moekit train` runs with a static and a dynamic domain
/// mixture. Validation loss falls in every domain, the dynamic weights move, and a checkpoint evaluates in `eval`.
@Suite("moekit train on prepared data (SmolLM2 split)", .serialized)
struct TrainDataEndToEndTests {
    static let domains = ["arxiv", "book", "c4", "github", "stackexchange", "wikipedia"]
    static let recipes = ["--recipes", TestModels.repositoryRoot + "/Converters"]

    static func evals(_ run: String) throws -> [JSONValue] {
        try String(contentsOfFile: run + "/train.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try JSONParser.parse(String($0)) }.filter { $0["event"]?.stringValue == "eval" }
    }

    @Test("prepare-data, then static-sheared and dynamic-sheared runs: every domain's validation loss falls, dynamic weights move, checkpoints evaluate",
          .requiresSmolLM2, .requiresShared("data/corpus/book.jsonl.gz"))
    func endToEnd() throws {
        let moekit = try CLITests.binary()
        let gguf = try #require(TestFixtures.smolLM2Path)
        let corpus = try #require(TestFixtures.sharedFile("data/corpus/book.jsonl.gz")).replacingOccurrences(of: "/book.jsonl.gz", with: "")
        let tmp = TemporaryDirectory()
        let split = tmp.file("split")
        let splitRun = try TestModels.run(moekit, ["split", gguf, split, "--experts", "8", "--top-k", "2", "--method", "random",
            "--dtype", "f32"] + Self.recipes)
        #expect(splitRun.status == 0, "\(splitRun.output)")
        let data = tmp.file("data")
        let prepared = try TestModels.run(moekit, ["prepare-data"] + Self.domains.map { "\(corpus)/\($0).jsonl.gz" }
            + ["--tokenizer", gguf, "--out", data, "--val-min-docs", "4"] + Self.recipes)
        #expect(prepared.status == 0, "\(prepared.output)")

        let common = ["--model", split, "--data", data, "--steps", "6", "--batch", "2", "--seq", "64", "--lr", "1e-3",
            "--eval-every", "3", "--eval-batches", "1", "--save-every", "6", "--seed", "3"] + Self.recipes
        // Static mixture: the LLaMA-MoE proportions over the six domains, unchanged through the run.
        let staticRun = tmp.file("static")
        let first = try TestModels.run(moekit, ["train", "--out", staticRun, "--mixture", "static-sheared"] + common)
        #expect(first.status == 0, "\(first.output)")
        let staticEvals = try Self.evals(staticRun)
        #expect(staticEvals.compactMap { $0["step"]?.intValue } == [0, 3, 6])
        for domain in Self.domains {
            let before = staticEvals.first?["domains"]?[domain]?.doubleValue ?? .nan
            let after = staticEvals.last?["domains"]?[domain]?.doubleValue ?? .nan
            #expect(after < before, "static-sheared: \(domain) validation loss \(before) → \(after)")
        }
        // Dynamic mixture against the dense parent's validation losses: the weights move at each evaluation and stay
        // a distribution.
        let dynamicRun = tmp.file("dynamic")
        let second = try TestModels.run(moekit, ["train", "--out", dynamicRun, "--mixture", "dynamic-sheared", "--reference-model", gguf] + common)
        #expect(second.status == 0, "\(second.output)")
        let records = try String(contentsOfFile: dynamicRun + "/train.jsonl", encoding: .utf8).split(separator: "\n").map { try JSONParser.parse(String($0)) }
        let initial = records.first { $0["event"]?.stringValue == "step" }?["mixture_weights"]?.arrayValue?.compactMap(\.doubleValue) ?? []
        let updated = try Self.evals(dynamicRun).last?["mixture_weights"]?.arrayValue?.compactMap(\.doubleValue) ?? []
        #expect(initial.count == 6 && updated.count == 6)
        #expect(abs(updated.reduce(0, +) - 1) < 1e-6 && updated.allSatisfy { $0 >= 0 })
        #expect(zip(initial, updated).contains { abs($0 - $1) > 1e-4 }, "weights did not move: \(initial) → \(updated)")
        #expect(records.first?["reference_losses"]?.arrayValue?.count == 6)

        // The checkpoint is an HF directory eval reads unchanged.
        let checkpoint = staticRun + "/checkpoints/step-00000006"
        let evaluation = try TestModels.run(moekit, ["eval", checkpoint, "--tasks", "piqa", "--limit", "4"] + Self.recipes)
        #expect(evaluation.status == 0, "\(evaluation.output)")
        #expect(evaluation.output.contains("piqa"), "\(evaluation.output)")
    }

    @Test("a data directory prepared with another tokenizer is refused before any step, naming both", .requiresSmolLM2)
    func otherTokenizer() throws {
        let moekit = try CLITests.binary()
        let gguf = try #require(TestFixtures.smolLM2Path)
        let tmp = TemporaryDirectory()
        try TinyLlama().writeHFDirectory(tmp.file("tiny"))
        let text = (0..<40).map { "{\"text\": \"document \($0) of the other tokenizer\"}" }.joined(separator: "\n") + "\n"
        try text.write(toFile: tmp.file("a.jsonl"), atomically: true, encoding: .utf8)
        let prepared = try TestModels.run(moekit, ["prepare-data", tmp.file("a.jsonl"), "--tokenizer", tmp.file("tiny"), "--out", tmp.file("data"),
            "--val-min-docs", "4"] + Self.recipes)
        #expect(prepared.status == 0, "\(prepared.output)")
        let run = tmp.file("run")
        let refused = try TestModels.run(moekit, ["train", "--model", gguf, "--data", tmp.file("data"), "--out", run, "--steps", "1",
            "--seq", "16"] + Self.recipes)
        #expect(refused.status == 1 && refused.output.contains("tokenizer") && refused.output.contains(tmp.file("data")), "\(refused.output)")
        #expect(!PathUtilities.exists(run + "/train.jsonl"))
    }
}
