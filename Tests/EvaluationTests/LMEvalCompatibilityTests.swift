import Foundation
import IOCore
import Runtime
import TestSupport
import Testing

@testable import Evaluation

/// lm-evaluation-harness's dialect: fractional --limit, task aliases, its per-sample records and hashes, the
/// tracker fields of a results file, and parallel scoring that equals the serial run.
@Suite("lm-eval compatibility and parallel scoring")
struct LMEvalCompatibilityTests {
    static func piqa() throws -> TaskDefinition {
        try TaskLibrary(directories: [TaskFiles.builtInDirectory], schemaPath: TaskFiles.schemaPath).task(named: "piqa")
    }

    @Test("--limit as a fraction takes ⌈fraction · rows⌉ items (lm-eval's rule); out-of-range fractions are refused")
    func fractionalLimit() throws {
        #expect(EvaluationOptions(limitFraction: 0.1).effectiveCount(50) == 5)
        #expect(EvaluationOptions(limitFraction: 0.01).effectiveCount(50) == 1)
        #expect(EvaluationOptions(limitFraction: 0.999).effectiveCount(50) == 50)
        #expect(EvaluationOptions(limit: 7, limitFraction: 0.5).effectiveCount(50) == 7)
        let result = try EvaluationHarness(
            scorer: FakeScorer(), tokenizer: CharacterTokenizer(), options: EvaluationOptions(limitFraction: 0.1)
        ).evaluate(try Self.piqa())
        #expect(result.effectiveCount == 5 && result.items.count == 5)
        #expect(throws: EvaluationError.self) {
            try EvaluationHarness(scorer: FakeScorer(), tokenizer: CharacterTokenizer(), options: EvaluationOptions(limitFraction: 1.5))
                .evaluate(try Self.piqa())
        }
    }

    @Test("lm-eval task names resolve through lm_eval_names and are reported under the name asked for")
    func aliases() throws {
        let library = try TaskLibrary(directories: [TaskFiles.builtInDirectory], schemaPath: TaskFiles.schemaPath)
        let task = try library.task(named: "social_iqa")
        #expect(task.name == "social_iqa")
        #expect(task.alias == "social_iqa")
        #expect(task.dataDirectoryFile == "siqa.jsonl")
        #expect(try library.task(named: "siqa").name == "siqa")
        #expect(throws: EvaluationError.self) { try library.task(named: "social_iq") }
    }

    @Test("sample records carry lm-eval's fields and hashes (values computed with Python's hashlib/json)")
    func sampleRecords() throws {
        let result = try EvaluationHarness(scorer: FakeScorer(), tokenizer: CharacterTokenizer(), options: EvaluationOptions(limit: 3))
            .evaluate(try Self.piqa())
        let lines = EvaluationReport.sampleLines(result).split(separator: "\n")
        #expect(lines.count == 3)
        let first = try JSONParser.parse(String(lines[0]))
        let keys = first.objectValue?.pairs.map(\.key) ?? []
        #expect(keys == [
            "doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics", "doc_hash", "prompt_hash",
            "target_hash", "acc", "acc_norm",
        ])
        #expect(first["doc_id"] == .integer(0))
        #expect(first["target"] == .string("0"))
        #expect(first["filter"] == .string("none"))
        #expect(first["metrics"] == .array([.string("acc"), .string("acc_norm")]))
        let context = "Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:"
        #expect(first["arguments"]?["gen_args_0"]?["arg_0"] == .string(context))
        #expect(first["arguments"]?["gen_args_1"]?["arg_1"]?.stringValue?.hasPrefix(" Provide the guinea pig") == true)
        let score = result.items[0].scores[0]
        let pair = JSONValue.array([.string("\(score.logLikelihood)"), .string(score.isGreedy ? "True" : "False")])
        #expect(first["resps"]?.arrayValue?.count == 2)
        #expect(first["resps"]?.arrayValue?[0] == .array([pair]))
        #expect(first["filtered_resps"]?.arrayValue?[0] == pair)
        // sha256(json.dumps(doc, indent=2, ensure_ascii=False)), sha256(context), sha256(str(0)).
        #expect(first["doc_hash"] == .string("98b9d137c140ab96ac200f065d95ff266adc916ba317e31343b0eee4a655f199"))
        #expect(first["prompt_hash"] == .string("14e2e90bdc64add59c76a88c2efb217a132b459947f9f2e3bbe8580b71beb533"))
        #expect(first["target_hash"] == .string("5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9"))
        // task_hashes: sha256 of every sample's doc_hash + prompt_hash + target_hash.
        var joined = ""
        for line in lines {
            let record = try JSONParser.parse(String(line))
            joined += ["doc_hash", "prompt_hash", "target_hash"].compactMap { record[$0]?.stringValue }.joined()
        }
        #expect(EvaluationReport.taskHash(result) == EvaluationReport.sha256Hex(joined))
    }

    @Test("results carry lm-eval's tracker fields: model name (sanitized), start/end time, total time, task hashes")
    func trackerFields() throws {
        let result = try EvaluationHarness(scorer: FakeScorer(), tokenizer: CharacterTokenizer(), options: EvaluationOptions(limit: 2))
            .evaluate(try Self.piqa())
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        let run = EvaluationReport.RunInfo(modelName: "HuggingFaceTB/SmolLM2-135M", startTime: start, endTime: start + 12.5)
        let json = EvaluationReport(results: [result], config: [], run: run).json()
        #expect(json["model_name"] == .string("HuggingFaceTB/SmolLM2-135M"))
        #expect(json["model_name_sanitized"] == .string("HuggingFaceTB__SmolLM2-135M"))
        #expect(json["model_source"] == .string("moekit"))
        #expect(json["start_time"] == .number(1_700_000_000))
        #expect(json["end_time"] == .number(1_700_000_012.5))
        #expect(json["total_evaluation_time_seconds"] == .string("12.5"))
        #expect(json["date"] == .number(1_700_000_000))
        #expect(json["task_hashes"]?["piqa"] == .string(EvaluationReport.taskHash(result)))
        #expect(EvaluationReport.RunInfo.sanitize("/tmp/a b/[x]::y.gguf") == "__tmp__a b__x__y.gguf")
    }

    @Test("scoring on several workers returns exactly the serial scores, and every worker's calls are real groups")
    func parallelEqualsSerial() throws {
        let serial = try EvaluationHarness(scorer: FakeScorer(), tokenizer: CharacterTokenizer()).evaluate(try Self.piqa())
        let workers = [FakeScorer(), FakeScorer(), FakeScorer()]
        let parallel = try EvaluationHarness(scorers: workers, tokenizer: CharacterTokenizer()).evaluate(try Self.piqa())
        #expect(parallel.items.count == 50)
        for (a, b) in zip(serial.items, parallel.items) {
            #expect(a.scores == b.scores)
            #expect(a.metrics == b.metrics)
        }
        #expect(serial.metrics.map(\.value) == parallel.metrics.map(\.value))
        // 50 items, one context each: every group is scored once, by some worker.
        #expect(workers.reduce(0) { $0 + $1.calls.count } == 50)
    }

    @Test("a failing worker's error reaches the caller")
    func parallelError() throws {
        let workers: [any TokenScorer] = [FakeScorer(contextLength: 4096), FakeScorer(contextLength: 4096)]
        let requests = (0..<20).map { ScoringRequest(context: [Int32($0 + 1)], continuation: $0 == 13 ? [] : [1]) }
            + [ScoringRequest(context: [], continuation: [5])]
        #expect(throws: FakeScorer.PreconditionViolated.self) { try RequestScheduler(scorers: workers).run(requests) }
    }

    @Test("a task_version too large for an integer prints as a number in the table (found by the CLI fuzzer: it trapped)")
    func hugeVersion() {
        #expect(EvaluationReport.versionText(18446744073709551615) == "1.8446744073709552e+19")
        #expect(EvaluationReport.versionText(2) == "2")
        #expect(EvaluationReport.versionText(1.5) == "1.5")
    }
}
