import Foundation
import TestSupport
import Testing

@testable import IOCore

/// `moekit eval` as lm-evaluation-harness users call it, on a tiny random model: lm-eval's option spellings and
/// output layout, Hugging Face ids from the local cache, results that do not depend on the thread count, and an
/// installed binary that finds its data with no environment variables.
@Suite("moekit eval: lm-eval dialect, resources, threads", .serialized)
struct EvalCommandTests {
    static func tinyModel(_ tmp: TemporaryDirectory, name: String = "tiny") throws -> String {
        let path = tmp.file(name)
        try TinyLlama().writeHFDirectory(path)
        return path
    }

    /// Runs `executable` in `directory` with the test's environment minus every `MOEKIT_*`/`HF_*` variable, plus `extra`.
    static func runClean(_ executable: String, _ arguments: [String], in directory: String? = nil, extra: [String: String] = [:])
        throws -> (status: Int32, output: String)
    {
        let environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("MOEKIT_") && !$0.key.hasPrefix("HF_") }
        return try TestModels.run(executable, arguments, environment: extra, baseEnvironment: environment, directory: directory)
    }

    static func files(in directory: String, prefix: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix(prefix) }.sorted()
    }

    static func sha256(_ text: String) -> String {
        SHA256.hex(Array(text.utf8))  // checked against Python's hashlib in LMEvalCompatibilityTests
    }

    @Test("--output_path DIR --log_samples --num_fewshot --limit 0.1 write lm-eval's layout, fields and hashes")
    func lmEvalLayout() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let model = try Self.tinyModel(tmp)
        let run = try Self.runClean(moekit, [
            "eval", model, "--tasks", "piqa", "--limit", "0.1", "--num_fewshot", "1", "--output_path", tmp.file("out"), "--log_samples",
        ])
        #expect(run.status == 0, "\(run.output)")
        let sanitized = model.replacingOccurrences(of: "/", with: "__")
        let directory = tmp.file("out/" + sanitized)
        let resultFiles = Self.files(in: directory, prefix: "results_")
        try #require(resultFiles.count == 1, "\(Self.files(in: tmp.file("out"), prefix: ""))")
        let date = String(resultFiles[0].dropFirst("results_".count).dropLast(".json".count))
        #expect(date.range(of: #"^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{6}$"#, options: .regularExpression) != nil, "\(date)")
        let json = try JSONParser.parse(try PathUtilities.readBytes(PathUtilities.join(directory, resultFiles[0])))
        #expect(json["n-samples"]?["piqa"]?["effective"] == .integer(5))
        #expect(json["n-shot"]?["piqa"] == .integer(1))
        #expect(json["config"]?["limit"] == .number(0.1))
        #expect(json["config"]?["model_args"] == .string("pretrained=\(model)"))
        #expect(json["model_name"] == .string(model))
        #expect(json["model_name_sanitized"] == .string(sanitized))
        #expect(json["versions"]?["piqa"]?.doubleValue == 1)
        let start = try #require(json["start_time"]?.doubleValue)
        let end = try #require(json["end_time"]?.doubleValue)
        #expect(start <= end && end - start < 600)
        #expect(json["total_evaluation_time_seconds"]?.stringValue.flatMap(Double.init) != nil)
        #expect(json["results"]?["piqa"]?["acc,none"]?.doubleValue != nil)

        let samplesPath = PathUtilities.join(directory, "samples_piqa_\(date).jsonl")
        let lines = try String(contentsOfFile: samplesPath, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 5)
        var joined = ""
        for (i, line) in lines.enumerated() {
            let record = try JSONParser.parse(String(line))
            #expect(record["doc_id"] == .integer(Int64(i)))
            for key in ["doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics", "acc", "acc_norm"] {
                #expect(record[key] != nil, "missing \(key)")
            }
            let prompt = try #require(record["arguments"]?["gen_args_0"]?["arg_0"]?.stringValue)
            #expect(prompt.hasSuffix("Answer:") && prompt.contains("\n\n"))  // one shot before the item
            #expect(record["prompt_hash"] == .string(Self.sha256(prompt)))
            #expect(record["target_hash"] == .string(Self.sha256(record["target"]?.stringValue ?? "?")))
            joined += ["doc_hash", "prompt_hash", "target_hash"].compactMap { record[$0]?.stringValue }.joined()
        }
        #expect(json["task_hashes"]?["piqa"] == .string(Self.sha256(joined)))
    }

    @Test("lm-eval's own readers (lm_eval.utils: results/samples file discovery, timestamps, make_table) accept the output",
        // lm-eval's package __init__ imports every model backend (0.4.9 fails to under transformers 5); the script loads
        // lm_eval/utils.py alone, which needs jinja2, yaml and numpy, and fails naming lm-eval when it is not installed.
        .requiresPython(named: "MOEKIT_LMEVAL_XCHECK_PYTHON", importing: "jinja2", "yaml", "numpy"))
    func lmEvalReadsOutput() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let model = try Self.tinyModel(tmp)
        let run = try Self.runClean(moekit, ["eval", model, "--tasks", "piqa", "--limit", "4", "--output_path", tmp.file("out"), "--log_samples"])
        #expect(run.status == 0, "\(run.output)")
        let python = try #require(ProcessInfo.processInfo.environment[TestFixtures.lmEvalReaderPythonVariable])
        let script = TestModels.repositoryRoot + "/scripts/crosscheck_lmeval_reader.py"
        let (status, output) = try TestModels.run("/usr/bin/env", [python, script, tmp.file("out"), model, "piqa"])
        print(output)
        #expect(status == 0 && output.contains("\n0 failure(s)"), "\(output)")
        #expect(output.contains("ok      make_table renders the results"), "\(output)")
    }

    @Test("the existing spellings still work: --output FILE.json in a new directory, --log-samples, --num-fewshot, --limit N")
    func existingSpellings() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let model = try Self.tinyModel(tmp)
        let output = tmp.file("res/sub/dense.json")
        let run = try Self.runClean(moekit, [
            "eval", model, "--tasks", "piqa,winogrande", "--limit", "3", "--num-fewshot", "0", "--output", output, "--log-samples",
        ])
        #expect(run.status == 0, "\(run.output)")
        let json = try JSONParser.parse(try PathUtilities.readBytes(output))
        #expect(json["n-samples"]?["winogrande"]?["effective"] == .integer(3))
        #expect(Self.files(in: tmp.file("res/sub"), prefix: "samples_piqa_").count == 1)
        #expect(Self.files(in: tmp.file("res/sub"), prefix: "samples_winogrande_").count == 1)
        #expect(run.output.contains("|piqa"))
    }

    @Test("bad --limit values are refused with the option's constraint", arguments: ["0", "1.5", "-0.5", "abc", "nan"])
    func badLimit(value: String) throws {
        let run = try Self.runClean(try CLITests.binary(), ["eval", "m.gguf", "--tasks", "piqa", "--limit", value])
        #expect(run.status == 64, "\(run.output)")
        #expect(run.output.contains("--limit: expected an item count ≥ 1 or a fraction strictly between 0 and 1, found '\(value)'"), "\(run.output)")
    }

    @Test("lm-eval task names: social_iqa runs the siqa task and is reported as social_iqa")
    func taskAlias() throws {
        let tmp = TemporaryDirectory()
        let model = try Self.tinyModel(tmp)
        try FileManager.default.createDirectory(atPath: tmp.file("data"), withIntermediateDirectories: true)
        let rows = (0..<4).map { #"{"query": "Q: item \#($0)?\nAnswer:", "choices": ["A", "B"], "gold": \#($0 % 2)}"# }
        try (rows.joined(separator: "\n") + "\n").write(toFile: tmp.file("data/siqa.jsonl"), atomically: true, encoding: .utf8)
        let run = try Self.runClean(try CLITests.binary(), [
            "eval", model, "--tasks", "social_iqa", "--data-dir", tmp.file("data"), "--output_path", tmp.file("r.json"),
        ])
        #expect(run.status == 0, "\(run.output)")
        let json = try JSONParser.parse(try PathUtilities.readBytes(tmp.file("r.json")))
        #expect(json["results"]?["social_iqa"]?["acc,none"]?.doubleValue != nil)
        #expect(json["n-samples"]?["social_iqa"]?["effective"] == .integer(4))
    }

    @Test("a Hugging Face id resolves from the local cache through refs/main; a missing one names where it looked")
    func huggingFaceID() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let repo = tmp.file("hf/hub/models--someorg--tiny-llama")
        try FileManager.default.createDirectory(atPath: repo + "/snapshots/0ld", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: repo + "/refs", withIntermediateDirectories: true)
        try TinyLlama().writeHFDirectory(repo + "/snapshots/abc123")
        try "abc123".write(toFile: repo + "/refs/main", atomically: true, encoding: .utf8)
        let env = ["HF_HOME": tmp.file("hf"), "HOME": tmp.path]
        var run = try Self.runClean(moekit, ["eval", "someorg/tiny-llama", "--tasks", "piqa", "--limit", "2"], in: tmp.path, extra: env)
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("pretrained=someorg/tiny-llama"))
        run = try Self.runClean(moekit, ["eval", "someorg/absent", "--tasks", "piqa", "--limit", "2"], in: tmp.path, extra: env)
        #expect(run.status == 1)
        #expect(run.output.contains("someorg/absent"), "\(run.output)")
        #expect(run.output.contains(tmp.file("hf/hub/models--someorg--absent/snapshots")), "\(run.output)")
        #expect(run.output.contains(tmp.file(".cache/huggingface/hub/models--someorg--absent/snapshots")), "\(run.output)")
    }

    @Test("results and samples are identical with MOEKIT_THREADS=1 and 2 (contexts scored in parallel)")
    func threadsIdentical() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let model = try Self.tinyModel(tmp)
        var samples: [String: String] = [:]
        var results: [JSONValue] = []
        for threads in ["1", "2"] {
            let out = tmp.file("t\(threads)/r.json")
            let run = try Self.runClean(moekit, [
                "eval", model, "--tasks", "piqa,winogrande,lambada_openai", "--limit", "12", "--output", out, "--log_samples",
            ], extra: ["MOEKIT_THREADS": threads])
            #expect(run.status == 0, "\(run.output)")
            let json = try JSONParser.parse(try PathUtilities.readBytes(out))
            #expect(json["config"]?["workers"] == .integer(Int64(threads)!))
            results.append(json["results"] ?? .null)
            for file in Self.files(in: tmp.file("t\(threads)"), prefix: "samples_") {
                let stem = file.dropFirst("samples_".count)
                let task = String(stem[..<(stem.lastIndex(of: "_") ?? stem.endIndex)])
                samples[threads + ":" + task, default: ""] += try String(contentsOfFile: tmp.file("t\(threads)/" + file), encoding: .utf8)
            }
        }
        #expect(results[0] == results[1])
        #expect(samples.count == 6)
        for key in samples.keys where key.hasPrefix("1:") {
            let other = "2:" + key.dropFirst(2)
            #expect(samples[key] == samples[other], "\(key)")
            #expect(!(samples[key] ?? "").isEmpty)
        }
    }

    @Test("the installed binary finds Converters/, Tasks/ and Schemas/ under PREFIX/share/moekit with no variables")
    func installedBinary() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let prefix = tmp.file("prefix")
        var run = try Self.runClean("/bin/bash", [TestModels.repositoryRoot + "/scripts/install.sh", "--no-build", prefix])
        #expect(run.status == 0, "\(run.output)")
        #expect(FileManager.default.isExecutableFile(atPath: prefix + "/bin/moekit"))
        _ = moekit
        let elsewhere = tmp.file("elsewhere")
        try FileManager.default.createDirectory(atPath: elsewhere + "/mytasks", withIntermediateDirectories: true)
        let model = try Self.tinyModel(tmp)
        run = try Self.runClean(prefix + "/bin/moekit", ["eval", model, "--tasks", "piqa", "--limit", "2"], in: elsewhere)
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("|piqa"))
        // A task directory outside the repository validates against the installed schema: a good task runs, a bad
        // one is refused naming the file and the field.
        try #"{"query": "Is it?", "choices": ["yes", "no"], "gold": 0}"#.write(
            toFile: elsewhere + "/mytasks/mine.jsonl", atomically: true, encoding: .utf8)
        try """
            {"version": 1, "name": "mine", "task_version": 1, "output_type": "multiple_choice", "format": "query_choices_gold",
             "data": {"file": "mine.jsonl"}, "metrics": ["acc"]}
            """.write(toFile: elsewhere + "/mytasks/mine.json", atomically: true, encoding: .utf8)
        try """
            {"version": 1, "name": "bad", "task_version": 1, "output_type": "multiple_choice", "format": "query_choices_gold",
             "data": {"file": "mine.jsonl"}, "metrics": ["acc"], "colour": "red"}
            """.write(toFile: elsewhere + "/mytasks/bad.json", atomically: true, encoding: .utf8)
        run = try Self.runClean(prefix + "/bin/moekit", ["eval", model, "--tasks", "mine", "--task-dir", "mytasks"], in: elsewhere)
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("|mine"))
        run = try Self.runClean(prefix + "/bin/moekit", ["eval", model, "--tasks", "bad", "--task-dir", "mytasks"], in: elsewhere)
        #expect(run.status == 1)
        #expect(run.output.contains("mytasks/bad.json") && run.output.contains("colour"), "\(run.output)")
        // A GGUF conversion needs the recipes: found under share/moekit too.
        run = try Self.runClean(prefix + "/bin/moekit", ["convert", model, "tiny.gguf"], in: elsewhere)
        #expect(run.status == 0, "\(run.output)")
    }

    @Test("with no resources anywhere, the error lists each searched path once, in order")
    func resourcesMissing() throws {
        let tmp = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: tmp.file("lonely/bin"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try CLITests.binary(), toPath: tmp.file("lonely/bin/moekit"))
        let run = try Self.runClean(tmp.file("lonely/bin/moekit"), ["eval", "model.gguf", "--tasks", "piqa"], in: tmp.path)
        #expect(run.status == 1)
        #expect(run.output.contains("cannot find moekit's Tasks/ directory"), "\(run.output)")
        for candidate in [tmp.file("lonely/bin/Tasks (executable)"), tmp.file("lonely/bin/share/moekit/Tasks (install prefix)"),
                          tmp.file("lonely/share/moekit/Tasks (install prefix)")] {
            #expect(run.output.components(separatedBy: candidate).count == 2, "\(candidate) in \(run.output)")
        }
        #expect(run.output.components(separatedBy: "searched, in order").count == 2)
        let with = try Self.runClean(
            tmp.file("lonely/bin/moekit"), ["eval", "model.gguf", "--tasks", "piqa"], in: tmp.path,
            extra: ["MOEKIT_RESOURCES": TestModels.repositoryRoot])
        #expect(with.status == 1)
        #expect(with.output.contains("model.gguf"), "\(with.output)")
        #expect(!with.output.contains("cannot find moekit"), "\(with.output)")
    }
}
