import IOCore

/// Everything that can go wrong while loading tasks, reading data or scoring: one typed error for the module.
///
/// Associated values carry the context a user needs to fix the input: the file, the line, the field (as a JSON
/// pointer or key name) and what was expected.
public enum EvaluationError: Error, CustomStringConvertible, Equatable, Sendable {
    /// No task file named `name.json` in the task directory.
    case unknownTask(String, known: [String])
    /// The built-in `Tasks/` or `Schemas/` directory could not be found (the error lists where it looked, once).
    case resourceNotFound(ResourceError)
    /// A file could not be read.
    case cannotRead(path: String, reason: String)
    /// A task file is not JSON.
    case invalidTaskJSON(path: String, reason: String)
    /// A task file breaks `Schemas/task.schema.json`; each violation starts with the JSON pointer of the field.
    case schemaViolation(path: String, violations: [String])
    /// A task file is schema-valid but inconsistent (e.g. a template names a field the format does not provide).
    case invalidTask(path: String, field: String, reason: String)
    /// A task's data lives outside the repository and no `--data-dir` was given.
    case dataDirectoryRequired(task: String, file: String)
    /// A data line is not a JSON object.
    case invalidDataLine(path: String, line: Int, reason: String)
    /// A data row lacks a field the task's format needs, or the field has the wrong type or value.
    case invalidDataField(path: String, line: Int, field: String, reason: String)
    /// The data file has no rows (after `--limit`).
    case emptyData(path: String)
    /// A prompt template is malformed.
    case invalidTemplate(template: String, reason: String)
    /// An option value is out of range.
    case invalidOption(String)
    /// The scorer returned the wrong number of scores.
    case scorerContractViolation(String)

    public var description: String {
        switch self {
        case .unknownTask(let name, let known):
            return "unknown task '\(name)' (available: \(known.joined(separator: ", ")))"
        case .resourceNotFound(let error):
            return error.description
        case .cannotRead(let path, let reason):
            return "\(path): cannot read: \(reason)"
        case .invalidTaskJSON(let path, let reason):
            return "\(path): task file is not valid JSON: \(reason)"
        case .schemaViolation(let path, let violations):
            return "\(path): task file does not match Schemas/task.schema.json:\n  " + violations.joined(separator: "\n  ")
        case .invalidTask(let path, let field, let reason):
            return "\(path): \(field): \(reason)"
        case .dataDirectoryRequired(let task, let file):
            return "task '\(task)' ships no data (its licence does not allow it); pass --data-dir DIR containing \(file)"
        case .invalidDataLine(let path, let line, let reason):
            return "\(path):\(line): not a JSON object: \(reason)"
        case .invalidDataField(let path, let line, let field, let reason):
            return "\(path):\(line): field '\(field)': \(reason)"
        case .emptyData(let path):
            return "\(path): no data rows"
        case .invalidTemplate(let template, let reason):
            return "prompt template \(template.debugDescription): \(reason)"
        case .invalidOption(let message):
            return message
        case .scorerContractViolation(let message):
            return "model scorer: \(message)"
        }
    }
}
