import Foundation
import IOCore

/// One task file (`Tasks/<name>.json`), validated by `Schemas/task.schema.json` and checked for consistency.
///
/// Task files are JSON (no YAML reader ships with moekit). See the schema for every key; in short: `name`,
/// `task_version`, `output_type`, `format` (+ `fields`), `data`, `template`, `target_delimiter`, `fewshot`,
/// `metrics`.
public struct TaskDefinition: Sendable, Equatable {
    /// Task name (the file name without `.json`).
    public var name: String
    /// Display name in results.
    public var alias: String
    /// Version reported under `versions`.
    public var taskVersion: Double
    /// Request type.
    public var outputType: TaskOutputType
    /// Row layout.
    public var format: TaskFormat
    /// Role → key renames for the generic layouts.
    public var fields: [String: String]
    /// The data file beside the task file (resolved to an absolute path), if the task ships data.
    public var bundledDataPath: String?
    /// The data file name looked up in `--data-dir`.
    public var dataDirectoryFile: String?
    /// The prompt (lm-eval `doc_to_text`).
    public var template: PromptTemplate
    /// Between prompt and choice/target (lm-eval `target_delimiter`).
    public var targetDelimiter: String
    /// Few-shot settings from the file (the CLI may override count and seed).
    public var fewShot: FewShotSettings
    /// Metrics to report, in file order.
    public var metrics: [TaskMetric]
    /// The task file's path.
    public var sourcePath: String
    /// The task file's JSON (echoed under `configs` in results).
    public var json: JSONValue

    /// Builds a definition from a schema-valid task document.
    /// - Parameters:
    ///   - json: the parsed task file (already validated against the schema).
    ///   - path: the file's path (for errors and for resolving `data.file`).
    /// - Throws: `EvaluationError.invalidTask` naming the field (JSON pointer) when the file is inconsistent.
    public init(json: JSONValue, path: String) throws(EvaluationError) {
        func invalid(_ field: String, _ reason: String) -> EvaluationError { .invalidTask(path: path, field: field, reason: reason) }
        sourcePath = path
        self.json = json
        name = json["name"]?.stringValue ?? ""
        let fileStem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        guard name == fileStem else { throw invalid("/name", "'\(name)' must equal the file name '\(fileStem)'") }
        alias = json["alias"]?.stringValue ?? name
        taskVersion = json["task_version"]?.doubleValue ?? 0
        guard let outputType = TaskOutputType(rawValue: json["output_type"]?.stringValue ?? "") else {
            throw invalid("/output_type", "unknown output type")
        }
        self.outputType = outputType
        guard let format = TaskFormat(rawValue: json["format"]?.stringValue ?? "") else { throw invalid("/format", "unknown format") }
        self.format = format
        guard format.outputType == outputType else {
            throw invalid("/output_type", "format '\(format.rawValue)' makes \(format.outputType.rawValue) requests, not \(outputType.rawValue)")
        }
        var fields: [String: String] = [:]
        for (role, value) in json["fields"]?.objectValue?.pairs ?? [] {
            guard format.renamableRoles.contains(role) else {
                let allowed = format.renamableRoles.isEmpty ? "none" : format.renamableRoles.joined(separator: ", ")
                throw invalid("/fields/\(role)", "format '\(format.rawValue)' has no role '\(role)' (renamable: \(allowed))")
            }
            fields[role] = value.stringValue
        }
        self.fields = fields
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        bundledDataPath = json["data"]?["file"]?.stringValue.map {
            $0.hasPrefix("/") ? $0 : directory.appendingPathComponent($0).standardizedFileURL.path
        }
        dataDirectoryFile = json["data"]?["data_dir_file"]?.stringValue
        guard bundledDataPath != nil || dataDirectoryFile != nil else { throw invalid("/data", "needs 'file' or 'data_dir_file'") }
        do {
            template = try PromptTemplate(json["template"]?.stringValue ?? format.defaultTemplate(fields: fields))
        } catch {
            throw invalid("/template", error.description)
        }
        if case .contextOptionsContinuation = format, !template.fieldNames.contains("context") {
            throw invalid("/template", "partial-scoring formats need {{context}} in the template")
        }
        if case .winogrande = format, !template.fieldNames.contains("context") {
            throw invalid("/template", "partial-scoring formats need {{context}} in the template")
        }
        targetDelimiter = json["target_delimiter"]?.stringValue ?? " "
        let shots = json["fewshot"]
        fewShot = FewShotSettings(
            count: Int(shots?["num_fewshot"]?.intValue ?? 0), separator: shots?["separator"]?.stringValue ?? "\n\n",
            seed: UInt64(max(0, shots?["seed"]?.intValue ?? 1234)), description: shots?["description"]?.stringValue ?? "")
        if outputType == .loglikelihoodRolling, fewShot.count > 0 {
            throw invalid("/fewshot/num_fewshot", "rolling log-likelihood tasks take no shots")
        }
        var metrics: [TaskMetric] = []
        for (i, item) in (json["metrics"]?.arrayValue ?? []).enumerated() {
            guard let metric = TaskMetric(rawValue: item.stringValue ?? ""),
                  TaskMetric.allowed(for: outputType).contains(metric)
            else { throw invalid("/metrics/\(i)", "not a metric of \(outputType.rawValue) tasks") }
            metrics.append(metric)
        }
        self.metrics = metrics
    }

    /// The data file to read: `--data-dir`/`data_dir_file` when a data directory is given and the task names one,
    /// else the bundled file.
    /// - Throws: `EvaluationError.dataDirectoryRequired` when the task ships no data and no directory was given.
    public func dataPath(dataDirectory: String?) throws(EvaluationError) -> String {
        if let dataDirectory, let dataDirectoryFile { return PathUtilities.join(dataDirectory, dataDirectoryFile) }
        if let bundledDataPath { return bundledDataPath }
        throw .dataDirectoryRequired(task: name, file: dataDirectoryFile ?? "?")
    }
}
