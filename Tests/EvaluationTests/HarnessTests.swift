import Foundation
import IOCore
import Runtime
import TestSupport
import Testing

@testable import Evaluation

@Suite("Harness scheduling, truncation and results")
struct HarnessTests {
    @Test("groups run longest first, one call per distinct context, duplicate continuations scored once")
    func scheduling() throws {
        let scorer = FakeScorer()
        let requests = [
            ScoringRequest(context: [1], continuation: [2]),
            ScoringRequest(context: [1, 2, 3], continuation: [4, 5]),
            ScoringRequest(context: [1], continuation: [2, 3, 4, 5, 6]),
            ScoringRequest(context: [1], continuation: [2]),
        ]
        let scores = try RequestScheduler(scorer: scorer).run(requests)
        #expect(scores.count == 4)
        #expect(scorer.calls.map(\.context) == [[1], [1, 2, 3]])  // [1] group holds the longest request (6 tokens)
        #expect(scorer.calls[0].continuations == [[2], [2, 3, 4, 5, 6]])
        #expect(scores[0] == scores[3])
        #expect(abs(scores[1].logLikelihood - FakeScorer.logLikelihood(context: [3], continuation: [4, 5])) < 1e-12)
    }

    @Test("requests longer than the context are left-truncated by the documented rule, never a crash")
    func truncation() throws {
        #expect(ScoringRequest(context: [1, 2, 3, 4, 5], continuation: [6, 7]).truncated(toFit: 4)
            == ScoringRequest(context: [4, 5], continuation: [6, 7]))
        // A continuation longer than the limit keeps its last limit − 1 tokens, conditioned on the one before.
        #expect(ScoringRequest(context: [1], continuation: [2, 3, 4, 5, 6]).truncated(toFit: 4)
            == ScoringRequest(context: [3], continuation: [4, 5, 6]))

        let dir = TemporaryDirectory()
        let long = String(repeating: "x", count: 300)
        TaskFiles.write("{\"query\": \"\(long)\", \"choices\": [\"a\", \"\(long)\"], \"gold\": 0}\n", to: dir.file("mc.jsonl"))
        TaskFiles.write("{\"context\": \"\(long)\", \"continuation\": \"\(long)\"}\n", to: dir.file("lm.jsonl"))
        let library = try TaskLibrary(directories: [dir.path], schemaPath: TaskFiles.schemaPath)
        let mc = try library.load(path: TaskFiles.task("mc", in: dir.path, """
            {"version": 1, "name": "mc", "task_version": 1, "output_type": "multiple_choice", "format": "query_choices_gold",
             "data": {"file": "mc.jsonl"}, "metrics": ["acc"]}
            """))
        let scorer = FakeScorer(contextLength: 16)
        let harness = EvaluationHarness(scorer: scorer, tokenizer: CharacterTokenizer())
        let result = try harness.evaluate(mc)
        #expect(result.items[0].scores.count == 2)
        #expect(scorer.calls.allSatisfy { call in call.continuations.allSatisfy { call.context.count + $0.count <= 16 } })
        // " a" after the last 14 x's: space after x (120) −0.1, a after space −0.2.
        #expect(abs(result.items[0].scores[0].logLikelihood - -0.3) < 1e-12)
        #expect(result.items[0].scores[1].tokenLogProbabilities.count == 15)

        let lm = try library.load(path: TaskFiles.task("lm", in: dir.path, """
            {"version": 1, "name": "lm", "task_version": 1, "output_type": "loglikelihood", "format": "context_continuation",
             "data": {"file": "lm.jsonl"}, "metrics": ["acc", "perplexity"]}
            """))
        let lmResult = try harness.evaluate(lm)
        #expect(lmResult.items[0].scores[0].tokenLogProbabilities.count == 15)
        #expect(scorer.calls.allSatisfy { call in call.continuations.allSatisfy { call.context.count + $0.count <= 16 } })
    }

    @Test("BOS handling and lm-eval's _encode_pair whitespace move")
    func encoding() {
        let encoder = RequestEncoder(tokenizer: CharacterTokenizer(addsBOS: true))
        let request = encoder.encode(context: "Q: ", continuation: "a")
        #expect(request.context == [CharacterTokenizer.bos, 81, 58])
        #expect(request.continuation == [32, 97])
        #expect(encoder.encode(context: "", continuation: "ab") == ScoringRequest(context: [CharacterTokenizer.bos], continuation: [97, 98]))
        let plain = RequestEncoder(tokenizer: CharacterTokenizer(addsBOS: false))
        #expect(plain.encode(context: "  ", continuation: "a") == ScoringRequest(context: [CharacterTokenizer.bos], continuation: [32, 32, 97]))
    }

    @Test("results JSON has lm-eval's keys; Markdown table; --limit takes the first N items; sample log lines")
    func report() throws {
        let library = try TaskLibrary(directories: [TaskFiles.builtInDirectory], schemaPath: TaskFiles.schemaPath)
        let piqa = try library.task(named: "piqa")
        let harness = EvaluationHarness(scorer: FakeScorer(), tokenizer: CharacterTokenizer(), options: EvaluationOptions(limit: 10))
        let result = try harness.evaluate(piqa)
        #expect(result.items.map(\.document.line) == Array(1...10))
        let report = EvaluationReport(results: [result], config: [("model", .string("fake")), ("limit", .integer(10))])
        let json = report.json()
        let entry = try #require(json["results"]?["piqa"])
        #expect(entry["alias"] == .string("piqa"))
        for key in ["acc,none", "acc_stderr,none", "acc_norm,none", "acc_norm_stderr,none"] {
            #expect(entry[key]?.doubleValue != nil, "missing \(key)")
        }
        #expect(json["versions"]?["piqa"]?.doubleValue == 1.0)
        #expect(json["n-shot"]?["piqa"] == .integer(0))
        #expect(json["n-samples"]?["piqa"]?["original"] == .integer(50))
        #expect(json["n-samples"]?["piqa"]?["effective"] == .integer(10))
        #expect(json["config"]?["limit"] == .integer(10))
        #expect(json["higher_is_better"]?["piqa"]?["acc"] == .bool(true))
        #expect(json["configs"]?["piqa"]?["template"] == .string("{{query}}Answer:"))
        // Round-trips through the strict parser.
        #expect(try JSONParser.parse(JSONWriter.serialize(json, indent: 2)) == json)

        let table = report.markdownTable().split(separator: "\n").map(String.init)
        #expect(table[0].replacingOccurrences(of: " ", with: "") == "|Tasks|Version|Filter|n-shot|Metric||Value||Stderr|")
        #expect(table[1].hasPrefix("|-----"))
        #expect(table[2].hasPrefix("|piqa") && table[2].contains("|acc ") && table[2].contains("↑") && table[2].contains("±"))
        #expect(table.count == 4)

        let lines = EvaluationReport.sampleLines(result).split(separator: "\n")
        #expect(lines.count == 10)
        let first = try JSONParser.parse(String(lines[0]))
        #expect(first["doc_id"] == .integer(0))
        #expect(first["resps"]?.arrayValue?.count == 2)
        #expect(first["arguments"]?["gen_args_0"]?["arg_0"] == .string("Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:"))

        // One item: stderr is "N/A", as lm-eval writes it.
        let one = try EvaluationHarness(scorer: FakeScorer(), tokenizer: CharacterTokenizer(), options: EvaluationOptions(limit: 1)).evaluate(piqa)
        #expect(EvaluationReport(results: [one], config: []).json()["results"]?["piqa"]?["acc_stderr,none"] == .string("N/A"))
    }
}
