import Foundation
import IOCore

/// Reads a task's JSON Lines data file into `TaskDocument`s.
public enum TaskDataReader {
    /// Reads every row of `path` (blank lines are skipped) through `task`'s format.
    /// - Parameters:
    ///   - task: supplies the format and field renames.
    ///   - path: the JSONL file.
    /// - Returns: one document per non-blank line, in file order.
    /// - Throws: `EvaluationError.cannotRead`; `.invalidDataLine` (file and line) for a line that is not a JSON
    ///   object; `.invalidDataField` (file, line and field) for a missing or mistyped field, including a field the
    ///   prompt template uses; `.emptyData` for a file without rows.
    public static func read(_ task: TaskDefinition, path: String) throws(EvaluationError) -> [TaskDocument] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .cannotRead(path: path, reason: PathUtilities.exists(path) ? "permission denied or not a file" : "no such file")
        }
        var documents: [TaskDocument] = []
        var lineNumber = 0
        var failure: EvaluationError?
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var start = 0
            let count = raw.count
            while start < count, failure == nil {
                var end = start
                while end < count && raw[end] != 0x0A { end += 1 }
                lineNumber += 1
                var stop = end
                if stop > start && raw[stop - 1] == 0x0D { stop -= 1 }
                let line = UnsafeRawBufferPointer(rebasing: raw[start..<stop])
                if line.contains(where: { $0 != 0x20 && $0 != 0x09 }) {
                    do {
                        let row: JSONValue
                        do { row = try JSONParser.parse(line) } catch {
                            throw EvaluationError.invalidDataLine(path: path, line: lineNumber, reason: "\(error)")
                        }
                        let document = try task.format.document(from: row, fields: task.fields, path: path, line: lineNumber)
                        try checkTemplateFields(task, document, path: path)
                        documents.append(document)
                    } catch let error as EvaluationError {
                        failure = error
                    } catch {
                        failure = .cannotRead(path: path, reason: "\(error)")
                    }
                }
                start = end + 1
            }
        }
        if let failure { throw failure }
        guard !documents.isEmpty else { throw .emptyData(path: path) }
        return documents
    }

    /// Fails with the file, line and field when the template names a field this row lacks.
    static func checkTemplateFields(_ task: TaskDefinition, _ document: TaskDocument, path: String) throws(EvaluationError) {
        let provided: Set<String>
        switch document.content {
        case .contextOptions: provided = Set(document.fields.keys).union(["context"])
        default: provided = Set(document.fields.keys)
        }
        for name in task.template.fieldNames where !provided.contains(name) {
            throw .invalidDataField(path: path, line: document.line, field: name, reason: "missing (the prompt template uses it)")
        }
    }
}
