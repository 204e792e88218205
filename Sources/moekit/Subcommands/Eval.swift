import ArgumentParser
import Evaluation
import Foundation
import Formats

extension MoekitCommand {
    /// `moekit eval MODEL --tasks a,b,... [--task-dir DIR] [--data-dir DIR] [--limit N] [--num-fewshot K] [--seed S]
    /// [--output results.json] [--log-samples]`.
    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate a model on benchmark tasks, scored as lm-evaluation-harness scores them.",
            discussion: """
                Tasks are JSON files (Schemas/task.schema.json) in --task-dir or the built-in Tasks/ directory \
                (found beside the executable, or via $MOEKIT_TASKS). Built-in tasks read the 50-item samples in \
                Tasks/samples/ unless --data-dir names a directory with the full files (piqa.jsonl, winogrande.jsonl, \
                arc_challenge.jsonl, boolq.jsonl, lambada_openai.jsonl, logi_qa.jsonl, siqa.jsonl); logiqa and siqa \
                ship no data and need --data-dir. Prints lm-eval's Markdown table on stdout and progress on stderr.
                """)

        @Argument(help: "Model checkpoint (.gguf, .safetensors or HF directory).")
        var model: String

        @Option(help: "Comma-separated task names, e.g. piqa,arc_challenge.")
        var tasks: String

        @Option(help: "Directory of extra task files, searched before the built-in Tasks/.")
        var taskDir: String?

        @Option(help: "Directory with the full data files, named as in llm-foundry's scripts/eval/local_data/ (e.g. piqa.jsonl).")
        var dataDir: String?

        @Option(help: "Evaluate only the first N items of each task, in file order.")
        var limit: Int?

        @Option(help: "Few-shot examples per item (default: each task's num_fewshot).")
        var numFewshot: Int?

        @Option(help: "Few-shot sampling seed (default: each task's seed, 1234).")
        var seed: UInt64?

        @Option(help: "Write lm-eval-shaped results JSON here (atomically).")
        var output: String?

        @Flag(help: "Also write per-item log-likelihoods as JSONL next to --output (<stem>.samples.<task>.jsonl).")
        var logSamples = false

        @Option(help: "Converters/ directory (architecture recipes).")
        var recipes: String?

        @Flag(help: "Replace existing --output and samples files.")
        var force = false

        func validate() throws {
            if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
            if let numFewshot, numFewshot < 0 { throw ValidationError("--num-fewshot must be non-negative") }
            if logSamples && output == nil { throw ValidationError("--log-samples needs --output (the samples go beside it)") }
        }

        func run() throws {
            try reportingErrors {
                let names = tasks.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                guard !names.isEmpty else { throw EvaluationError.invalidOption("--tasks names no task") }
                // Refuse unusable outputs before anything else.
                if let output {
                    let samples = logSamples ? names.map { samplesPath(output: output, task: $0) } : []
                    for path in [output] + samples {
                        try OutputChecks.check(output: path, inputs: [model], force: force, directoryOutput: false)
                    }
                }
                let library = try TaskLibrary.standard(userDirectory: taskDir)
                let definitions = try names.map { name throws(EvaluationError) in try library.task(named: name) }
                // Fail on missing data before loading the model.
                for task in definitions { _ = try task.dataPath(dataDirectory: dataDir) }
                let source = try ModelSource.open(model, recipesDirectory: recipes)
                let tokenizer = try makeTokenizer(source)
                let scorer = try makeScorer(source)
                let options = EvaluationOptions(limit: limit, numFewShot: numFewshot, seed: seed, dataDirectory: dataDir)
                let harness = EvaluationHarness(scorer: scorer, tokenizer: tokenizer, options: options)
                var results: [TaskResult] = []
                for task in definitions {
                    let printer = EvalProgressPrinter()
                    results.append(try harness.evaluate(task) { printer.report($0) })
                }
                let config: [(String, JSONValue)] = [
                    ("model", .string("moekit")), ("model_args", .string("pretrained=\(model)")), ("model_path", .string(model)),
                    ("model_format", .string(source.format)), ("tasks", .array(names.map { .string($0) })),
                    ("limit", limit.map { .integer(Int64($0)) } ?? .null),
                    ("num_fewshot", numFewshot.map { .integer(Int64($0)) } ?? .null),
                    ("seed", seed.map { .integer(Int64(truncatingIfNeeded: $0)) } ?? .null),
                    ("data_dir", dataDir.map { .string($0) } ?? .null),
                    ("max_length", .integer(Int64(harness.maxLength))), ("add_bos_token", .bool(options.addBOS)),
                    ("bootstrap_iters", .integer(Int64(options.bootstrapIterations))), ("batch_size", .integer(1)),
                    ("moekit_version", .string(MoekitVersion.string)),
                ]
                let report = EvaluationReport(results: results, config: config)
                if let output {
                    try PathUtilities.createDirectory(TemporaryPaths.directory(of: output))
                    try AtomicFileWriter.write(JSONWriter.bytes(report.json(), indent: 2) + [0x0A], to: output, replaceExisting: force)
                    if logSamples {
                        for result in results {
                            try AtomicFileWriter.write(
                                Array(EvaluationReport.sampleLines(result).utf8), to: samplesPath(output: output, task: result.task.name),
                                replaceExisting: force)
                        }
                    }
                }
                print("moekit (\(model)), limit: \(limit.map(String.init) ?? "None"), num_fewshot: \(numFewshot.map(String.init) ?? "None")")
                print(report.markdownTable(), terminator: "")
            }
        }

        /// `<stem>.samples.<task>.jsonl` beside `output` (stem: `output` without `.json`).
        func samplesPath(output: String, task: String) -> String {
            let stem = output.hasSuffix(".json") ? String(output.dropLast(5)) : output
            return "\(stem).samples.\(task).jsonl"
        }
    }
}

/// Prints `eval <task>: 40% (20/50 items) 3.1 items/s ETA 9s` lines on stderr, at most every half second.
final class EvalProgressPrinter {
    private var lastPrint = Date.distantPast

    func report(_ progress: EvaluationProgress) {
        guard progress.isFinished || Date().timeIntervalSince(lastPrint) >= 0.5 else { return }
        lastPrint = Date()
        printError(String(
            format: "eval %@: %3.0f%% (%.0f/%d items)  %.2f items/s  ETA %@", progress.task, progress.fraction * 100,
            progress.itemsDone, progress.itemsTotal, progress.itemsPerSecond,
            ProgressReporter.duration(progress.isFinished ? 0 : progress.secondsRemaining)))
    }
}
