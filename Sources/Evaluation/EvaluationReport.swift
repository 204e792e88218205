import Foundation
import IOCore

/// Results in lm-evaluation-harness's shapes: the results JSON (`lm_eval/evaluator.py` + `evaluator_utils.py`),
/// the Markdown table of `make_table`, and `--log-samples` JSONL lines.
public struct EvaluationReport: Sendable {
    /// Task results in `--tasks` order.
    public var results: [TaskResult]
    /// Run description echoed under `config` (model path, limit, seed, num_fewshot, …), in order.
    public var config: [(String, JSONValue)]
    /// Model name and start/end times (lm-eval's `EvaluationTracker` fields); nil leaves them out.
    public var run: RunInfo?

    public init(results: [TaskResult], config: [(String, JSONValue)], run: RunInfo? = nil) {
        self.results = results
        self.config = config
        self.run = run
    }

    /// What lm-eval's `GeneralConfigTracker` adds to a results file: the model and the run's start and end.
    public struct RunInfo: Sendable {
        /// `model_source` (lm-eval: the model type, e.g. "hf"); moekit writes "moekit".
        public var modelSource: String
        /// `model_name`: the model as given on the command line (path or Hugging Face id).
        public var modelName: String
        /// Wall-clock start of the evaluation.
        public var startTime: Date
        /// Wall-clock end of the evaluation.
        public var endTime: Date

        public init(modelSource: String = "moekit", modelName: String, startTime: Date, endTime: Date) {
            self.modelSource = modelSource
            self.modelName = modelName
            self.startTime = startTime
            self.endTime = endTime
        }

        /// `model_name_sanitized`: lm-eval's `sanitize_model_name`, every run of `"<>:/|\?*[]` replaced by `__`
        /// (the subdirectory name results go to when `--output_path` is a directory).
        public var modelNameSanitized: String { Self.sanitize(modelName) }

        /// `re.sub(r"[\"<>:/\|\\?\*\[\]]+", "__", name)`.
        public static func sanitize(_ name: String) -> String {
            let special: Set<Character> = ["\"", "<", ">", ":", "/", "|", "\\", "?", "*", "[", "]"]
            var out = ""
            var inRun = false
            for character in name {
                if special.contains(character) {
                    if !inRun { out += "__" }
                    inRun = true
                } else {
                    out.append(character)
                    inRun = false
                }
            }
            return out
        }
    }

    /// The results document: `results`, `group_subtasks`, `configs`, `versions`, `n-shot`, `higher_is_better`,
    /// `n-samples`, `config`, `date`, `total_evaluation_time_seconds`, and with `run` lm-eval's tracker fields
    /// `task_hashes`, `model_source`, `model_name`, `model_name_sanitized`, `start_time`, `end_time` (Unix seconds;
    /// lm-eval writes a monotonic clock there, whose difference is the same) and `total_evaluation_time_seconds`
    /// = `str(end_time − start_time)`.
    ///
    /// Metric keys are `"<metric>,none"` and `"<metric>_stderr,none"`; an unavailable standard error is the
    /// string `"N/A"`, as lm-eval writes it.
    public func json(date: Date = Date()) -> JSONValue {
        var results = JSONObject(), subtasks = JSONObject(), configs = JSONObject(), versions = JSONObject()
        var shots = JSONObject(), higher = JSONObject(), samples = JSONObject()
        for result in self.results {
            let name = result.task.name
            var entry = JSONObject([("alias", .string(result.task.alias))])
            var better = JSONObject()
            for metric in result.metrics {
                let key = metric.metric.rawValue
                entry["\(key),none"] = Self.number(metric.value)
                entry["\(key)_stderr,none"] = metric.standardError.map(Self.number) ?? .string("N/A")
                better[key] = .bool(metric.metric.higherIsBetter)
            }
            results[name] = .object(entry)
            subtasks[name] = .array([])
            var taskConfig = result.task.json.objectValue ?? JSONObject()
            taskConfig["$schema"] = nil
            taskConfig["data_path"] = .string(result.dataPath)
            taskConfig["num_fewshot"] = .integer(Int64(result.shots))
            taskConfig["fewshot_seed"] = .integer(Int64(result.seed))
            configs[name] = .object(taskConfig)
            versions[name] = Self.number(result.task.taskVersion)
            shots[name] = .integer(Int64(result.shots))
            higher[name] = .object(better)
            samples[name] = .object(JSONObject([
                ("original", .integer(Int64(result.originalCount))), ("effective", .integer(Int64(result.effectiveCount))),
            ]))
        }
        let total = self.results.reduce(0) { $0 + $1.seconds }
        var document = JSONObject([
            ("results", .object(results)), ("group_subtasks", .object(subtasks)), ("configs", .object(configs)),
            ("versions", .object(versions)), ("n-shot", .object(shots)), ("higher_is_better", .object(higher)),
            ("n-samples", .object(samples)), ("config", .object(JSONObject(config))),
            ("date", .number(run?.startTime.timeIntervalSince1970 ?? date.timeIntervalSince1970)),
            ("total_evaluation_time_seconds", .string(String(format: "%.3f", total))),
        ])
        if let run {
            var hashes = JSONObject()
            for result in self.results { hashes[result.task.name] = .string(Self.taskHash(result)) }
            document["task_hashes"] = .object(hashes)
            document["model_source"] = .string(run.modelSource)
            document["model_name"] = .string(run.modelName)
            document["model_name_sanitized"] = .string(run.modelNameSanitized)
            document["start_time"] = .number(run.startTime.timeIntervalSince1970)
            document["end_time"] = .number(run.endTime.timeIntervalSince1970)
            document["total_evaluation_time_seconds"] = .string(String(run.endTime.timeIntervalSince(run.startTime)))
        }
        return .object(document)
    }

    /// The Markdown table lm-eval prints (`|Tasks|Version|Filter|n-shot|Metric| |Value| |Stderr|`), values and
    /// standard errors with four decimals, "N/A" where there is no standard error.
    public func markdownTable() -> String {
        let header = ["Tasks", "Version", "Filter", "n-shot", "Metric", "", "Value", "", "Stderr"]
        let rightAligned: Set<Int> = [1, 3, 6, 8]
        var rows: [[String]] = []
        for result in results {
            var first = true
            for metric in result.metrics {
                rows.append([
                    first ? result.task.alias : "", first ? Self.versionText(result.task.taskVersion) : "", "none",
                    String(result.shots), metric.metric.rawValue, metric.metric.higherIsBetter ? "↑" : "↓",
                    String(format: "%.4f", metric.value), "±", metric.standardError.map { String(format: "%.4f", $0) } ?? "N/A",
                ])
                first = false
            }
        }
        let widths = header.indices.map { column in
            max(3, ([header] + rows).map { $0[column].count }.max() ?? 0)
        }
        func line(_ cells: [String]) -> String {
            "|" + cells.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return rightAligned.contains(column) ? pad + cell : cell + pad
            }.joined(separator: "|") + "|"
        }
        let rule = "|" + widths.indices.map { column in
            String(repeating: "-", count: widths[column] - (rightAligned.contains(column) ? 1 : 0)) + (rightAligned.contains(column) ? ":" : "")
        }.joined(separator: "|") + "|"
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n") + "\n"
    }

    /// One JSON line per item of `result` for `--log-samples`, as lm-eval's `EvaluationTracker.save_results_samples`
    /// writes them (`samples_<task>_<date>.jsonl`): see `sampleRecord(_:of:)`.
    public static func sampleLines(_ result: TaskResult) -> String {
        result.items.map { JSONWriter.serialize(sampleRecord($0, of: result)) + "\n" }.joined()
    }

    /// One sample record in lm-eval's shape (`lm_eval/evaluator.py` `log_samples` + `save_results_samples`):
    /// `doc_id`, `doc` (the data row), `target` (as `str(target)`: the gold index for multiple choice, the shared
    /// continuation for partial scoring, the target for LAMBADA, the text for rolling documents), `arguments`
    /// (`{"gen_args_<i>": {"arg_0": context, "arg_1": continuation}}` per request), `resps` and `filtered_resps`
    /// (Python `str` of each `(loglikelihood, is_greedy)` response, e.g. `["-4.25", "False"]`; rolling documents: the
    /// summed log-likelihood), `filter` ("none"), `metrics` (names), `doc_hash` (SHA-256 of the row as Python's
    /// `json.dumps(doc, indent=2, ensure_ascii=False)`), `prompt_hash` (SHA-256 of the first request's context),
    /// `target_hash` (SHA-256 of `target`), then each metric's value (rolling metrics as `[loglikelihood, count]`).
    public static func sampleRecord(_ item: ItemOutcome, of result: TaskResult) -> JSONValue {
        let task = result.task
        let target: String
        var arguments: [[String]]
        var resps: [[JSONValue]]
        switch item.document.content {
        case .choices(_, let gold): target = String(gold)
        case .contextOptions(_, let continuation, _): target = continuation
        case .target(let text): target = task.targetDelimiter + text
        case .text(let text): target = text
        }
        if let rolling = item.rolling, case .text(let text) = item.document.content {
            arguments = [[text]]
            resps = [[.string(pythonString(rolling.logLikelihood))]]
        } else {
            arguments = item.requests.map { [$0.context, $0.continuation] }
            resps = item.scores.map { [.array([.string(pythonString($0.logLikelihood)), .string($0.isGreedy ? "True" : "False")])] }
        }
        var gen = JSONObject()
        for (i, argument) in arguments.enumerated() {
            var args = JSONObject()
            for (j, value) in argument.enumerated() { args["arg_\(j)"] = .string(value) }
            gen["gen_args_\(i)"] = .object(args)
        }
        var metricValues: [(String, JSONValue)] = []
        for metric in task.metrics {
            if let rolling = item.rolling {
                switch metric {
                case .wordPerplexity: metricValues.append((metric.rawValue, .array([number(rolling.logLikelihood), .integer(Int64(rolling.words))])))
                case .bytePerplexity, .bitsPerByte:
                    metricValues.append((metric.rawValue, .array([number(rolling.logLikelihood), .integer(Int64(rolling.bytes))])))
                default: break
                }
            } else if let value = item.metrics[metric] {
                if case .target = item.document.content, metric == .acc {
                    metricValues.append((metric.rawValue, .integer(Int64(value))))  // lm-eval: int(is_greedy)
                } else {
                    metricValues.append((metric.rawValue, number(value)))
                }
            }
        }
        let hashes = sampleHashes(item, target: target, prompt: arguments.first?.first ?? "")
        var record = JSONObject([
            ("doc_id", .integer(Int64(item.index))), ("doc", item.document.row), ("target", .string(target)),
            ("arguments", .object(gen)), ("resps", .array(resps.map { .array($0) })),
            ("filtered_resps", .array(resps.map { $0.first ?? .null })), ("filter", .string("none")),
            ("metrics", .array(metricValues.map { .string($0.0) })),
            ("doc_hash", .string(hashes.doc)), ("prompt_hash", .string(hashes.prompt)), ("target_hash", .string(hashes.target)),
        ])
        for (key, value) in metricValues { record[key] = value }
        return .object(record)
    }

    /// lm-eval's `task_hashes` entry: SHA-256 of the concatenated `doc_hash + prompt_hash + target_hash` of every
    /// sample, in document order.
    public static func taskHash(_ result: TaskResult) -> String {
        var joined = ""
        for item in result.items {
            guard case .object(let record) = sampleRecord(item, of: result) else { continue }
            for key in ["doc_hash", "prompt_hash", "target_hash"] { joined += record[key]?.stringValue ?? "" }
        }
        return sha256Hex(joined)
    }

    static func sampleHashes(_ item: ItemOutcome, target: String, prompt: String) -> (doc: String, prompt: String, target: String) {
        (sha256Hex(JSONWriter.serialize(item.document.row, indent: 2)), sha256Hex(prompt), sha256Hex(target))
    }

    /// lm-eval's `hash_string`: hex SHA-256 of the UTF-8 bytes.
    public static func sha256Hex(_ text: String) -> String {
        SHA256.hex(Array(text.utf8))
    }

    /// Python's `str(float)` for the values moekit writes (shortest round-trip digits; `inf`, `nan`).
    static func pythonString(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        return "\(value)"
    }

    /// A JSON number, or a string for non-finite values (JSON has no inf/NaN).
    static func number(_ value: Double) -> JSONValue {
        value.isFinite ? .number(value) : .string(value.isNaN ? "NaN" : (value > 0 ? "Infinity" : "-Infinity"))
    }

    /// lm-eval prints versions like 1.0 as "1".
    static func versionText(_ version: Double) -> String {
        version.rounded() == version && abs(version) < 1e15 ? String(Int64(version)) : String(version)
    }
}
