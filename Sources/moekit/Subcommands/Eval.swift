import ArgumentParser
import Conversion
import Evaluation
import Foundation
import IOCore
import TensorCore

extension MoekitCommand {
    /// `moekit eval MODEL --tasks a,b,... [--task-dir DIR] [--data-dir DIR] [--limit N|F] [--num-fewshot K] [--seed S]
    /// [--output_path results.json|DIR] [--log_samples]`, with lm-evaluation-harness's spellings accepted.
    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate a model on benchmark tasks, scored as lm-evaluation-harness scores them.",
            discussion: """
                MODEL is a .gguf file, an HF directory, or a Hugging Face id (org/name) found in the local Hugging \
                Face cache ($HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub; refs/main picks the snapshot; \
                nothing is downloaded). Tasks are JSON files (Schemas/task.schema.json) in --task-dir or the built-in \
                Tasks/ directory; lm-eval's task names are accepted where they differ (social_iqa for siqa). \
                Tasks/, Converters/ and Schemas/ are found by one search order: the flag, $MOEKIT_TASKS / \
                $MOEKIT_CONVERTERS / $MOEKIT_SCHEMAS, $MOEKIT_RESOURCES/<Name>, then beside the executable or in a \
                parent, directly or under share/moekit/ (PREFIX/bin/moekit finds PREFIX/share/moekit). \
                Built-in tasks read the 50-item samples in Tasks/samples/ unless --data-dir names a directory with \
                the full files (piqa.jsonl, winogrande.jsonl, arc_challenge.jsonl, boolq.jsonl, lambada_openai.jsonl, \
                logi_qa.jsonl, siqa.jsonl); logiqa and siqa ship no data and need --data-dir. \
                --output_path (or --output) ending in .json, or naming an existing file, is the results file; any \
                other path is a directory that gets lm-eval's layout: DIR/<model_name_sanitized>/results_<date>.json. \
                --log_samples writes samples_<task>_<date>.jsonl beside the results file, with lm-eval's per-sample \
                fields. Multiple-choice contexts are scored on $MOEKIT_THREADS workers (default: all cores); results \
                do not depend on the count. Prints lm-eval's Markdown table on stdout and progress on stderr.
                """)

        @Argument(help: "Model: .gguf file, HF directory, or Hugging Face id (org/name) in the local HF cache.")
        var model: String

        @Option(help: "Comma-separated task names, e.g. piqa,arc_challenge (lm-eval names such as social_iqa too).")
        var tasks: String

        @Option(help: "Directory of extra task files, searched before the built-in Tasks/.")
        var taskDir: String?

        @Option(help: "Directory with the full data files, named as in llm-foundry's scripts/eval/local_data/ (e.g. piqa.jsonl).")
        var dataDir: String?

        @Option(
            parsing: .unconditional,
            help: "Evaluate only the first N items of each task (N ≥ 1), or, as lm-eval, a fraction 0 < F < 1 of each task's items (rounded up).",
            transform: EvalLimit.parse)
        var limit: EvalLimit?

        @Option(
            name: [.customLong("num-fewshot"), .customLong("num_fewshot")], parsing: .unconditional,
            help: "Few-shot examples per item (default: each task's num_fewshot).",
            transform: NumberOption.integer("--num-fewshot", minimum: 0))
        var numFewshot: Int?

        @Option(parsing: .unconditional, help: "Few-shot sampling seed, 0…2^64−1 (default: each task's seed, 1234).",
                transform: NumberOption.seed("--seed"))
        var seed: UInt64?

        @Option(
            name: [.customLong("output"), .customLong("output_path"), .customLong("output-path")],
            help: "Results JSON file (a name ending in .json or an existing file), or a directory for lm-eval's layout DIR/<model>/results_<date>.json. Parent directories are created.")
        var output: String?

        @Flag(
            name: [.customLong("log-samples"), .customLong("log_samples")],
            help: "Also write samples_<task>_<date>.jsonl (lm-eval's per-sample records) beside the results file.")
        var logSamples = false

        @Option(help: recipesOptionHelp)
        var recipes: String?

        @Flag(help: "Replace an existing results file.")
        var force = false

        func validate() throws {
            if logSamples && output == nil { throw ValidationError("--log-samples needs --output_path (the samples go beside the results)") }
        }

        func run() throws {
            try reportingErrors {
                let startTime = Date()
                let names = tasks.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                guard !names.isEmpty else { throw EvaluationError.invalidOption("--tasks names no task") }
                let modelPath = try Self.resolveModel(model)
                let dateID = Self.dateID(startTime)
                let outputs = output.map { EvalOutputs(output: $0, modelName: model, dateID: dateID) }
                // Refuse unusable outputs before anything else.
                if let outputs {
                    let samples = logSamples ? names.map { outputs.samplesPath(task: $0) } : []
                    for path in [outputs.resultsPath] + samples {
                        try OutputChecks.check(output: path, inputs: [modelPath], force: force, directoryOutput: false)
                    }
                }
                let library = try TaskLibrary.standard(userDirectory: taskDir)
                let definitions = try names.map { name throws(EvaluationError) in try library.task(named: name) }
                // Fail on missing data before loading the model.
                for task in definitions { _ = try task.dataPath(dataDirectory: dataDir) }
                let source = try ModelSource.open(modelPath, recipesDirectory: recipes)
                let tokenizer = try makeTokenizer(source)
                let scorers = try makeScorers(source, count: Parallel.configuredWidth)
                let options = EvaluationOptions(
                    limit: limit?.count, limitFraction: limit?.fraction, numFewShot: numFewshot, seed: seed, dataDirectory: dataDir)
                let harness = EvaluationHarness(scorers: scorers, tokenizer: tokenizer, options: options)
                var results: [TaskResult] = []
                for task in definitions {
                    let printer = EvalProgressPrinter()
                    results.append(try harness.evaluate(task) { printer.report($0) })
                }
                let config: [(String, JSONValue)] = [
                    ("model", .string("moekit")), ("model_args", .string("pretrained=\(model)")), ("model_path", .string(modelPath)),
                    ("model_format", .string(source.format)), ("tasks", .array(names.map { .string($0) })),
                    ("limit", limit?.json ?? .null),
                    ("num_fewshot", numFewshot.map { .integer(Int64($0)) } ?? .null),
                    ("seed", seed.map { .integer(Int64(truncatingIfNeeded: $0)) } ?? .null),
                    ("data_dir", dataDir.map { .string($0) } ?? .null),
                    ("max_length", .integer(Int64(harness.maxLength))), ("add_bos_token", .bool(options.addBOS)),
                    ("bootstrap_iters", .integer(Int64(options.bootstrapIterations))), ("batch_size", .integer(1)),
                    ("workers", .integer(Int64(scorers.count))), ("moekit_version", .string(MoekitVersion.string)),
                ]
                let run = EvaluationReport.RunInfo(modelName: model, startTime: startTime, endTime: Date())
                let report = EvaluationReport(results: results, config: config, run: run)
                if let outputs {
                    try PathUtilities.createDirectory(TemporaryPaths.directory(of: outputs.resultsPath))
                    try AtomicFileWriter.write(
                        JSONWriter.bytes(report.json(), indent: 2) + [0x0A], to: outputs.resultsPath, replaceExisting: force)
                    if logSamples {
                        for result in results {
                            try AtomicFileWriter.write(
                                Array(EvaluationReport.sampleLines(result).utf8), to: outputs.samplesPath(task: result.task.name),
                                replaceExisting: force)
                        }
                    }
                    printError("eval: wrote \(outputs.resultsPath)")
                }
                print("moekit (pretrained=\(model)), limit: \(limit?.text ?? "None"), num_fewshot: \(numFewshot.map(String.init) ?? "None")")
                print(report.markdownTable(), terminator: "")
            }
        }

        /// `model` itself when it exists; else, for an `org/name` id, its snapshot in the local Hugging Face cache.
        static func resolveModel(_ model: String) throws -> String {
            if PathUtilities.exists(model) || !HuggingFaceCache.isModelID(model) { return model }
            return try HuggingFaceCache.resolve(model)
        }

        /// lm-eval's `date_id`: `datetime.now().isoformat().replace(":", "-")`, e.g. `2025-01-31T14-05-09.123456`.
        static func dateID(_ date: Date) -> String {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.dateFormat = "yyyy-MM-dd'T'HH-mm-ss"
            let micro = Int((date.timeIntervalSince1970 * 1_000_000).rounded(.down)) % 1_000_000
            return formatter.string(from: date) + String(format: ".%06d", micro)
        }
    }
}

/// `--limit`: a count of items, or lm-eval's fraction of each task's items.
enum EvalLimit: ExpressibleByArgument {
    case count(Int)
    case fraction(Double)

    init?(argument: String) {
        guard let value = try? Self.parse(argument) else { return nil }
        self = value
    }

    /// `N` (an integer ≥ 1, or a number ≥ 1 with no fractional part, as lm-eval's `int(limit)`) or `F` with 0 < F < 1.
    static func parse(_ text: String) throws -> EvalLimit {
        if let n = Int(text), n >= 1 { return .count(n) }
        if let x = Double(text), x.isFinite {
            if x > 0 && x < 1 { return .fraction(x) }
            if x >= 1 && x.rounded() == x && x <= Double(Int.max / 2) { return .count(Int(x)) }
        }
        throw ValidationError("--limit: expected an item count ≥ 1 or a fraction strictly between 0 and 1, found '\(text)'")
    }

    var count: Int? { if case .count(let n) = self { return n } else { return nil } }
    var fraction: Double? { if case .fraction(let x) = self { return x } else { return nil } }
    var json: JSONValue {
        switch self {
        case .count(let n): return .integer(Int64(n))
        case .fraction(let x): return .number(x)
        }
    }
    var text: String {
        switch self {
        case .count(let n): return String(n)
        case .fraction(let x): return String(x)
        }
    }
}

/// Where `eval` writes: the results file and, beside it, the samples files.
struct EvalOutputs {
    /// The results JSON.
    let resultsPath: String
    /// The directory of the samples files.
    let samplesDirectory: String
    /// lm-eval's `date_id` in the file names.
    let dateID: String

    /// `output` is the results file when it ends in `.json` or names an existing non-directory; otherwise it is a
    /// directory and the results go to `output/<model_name_sanitized>/results_<dateID>.json` (lm-eval's
    /// `EvaluationTracker` layout).
    init(output: String, modelName: String, dateID: String) {
        self.dateID = dateID
        let isFile = PathUtilities.exists(output) ? !PathUtilities.isDirectory(output) : output.hasSuffix(".json")
        if isFile {
            resultsPath = output
            samplesDirectory = TemporaryPaths.directory(of: output)
        } else {
            let directory = PathUtilities.join(output, EvaluationReport.RunInfo.sanitize(modelName))
            resultsPath = PathUtilities.join(directory, "results_\(dateID).json")
            samplesDirectory = directory
        }
    }

    /// `samples_<task>_<dateID>.jsonl` beside the results file.
    func samplesPath(task: String) -> String {
        PathUtilities.join(samplesDirectory, "samples_\(task)_\(dateID).jsonl")
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
