import IOCore

/// A data-row layout: how a JSONL row becomes a `TaskDocument`.
///
/// The generic layouts are those of mosaicml/llm-foundry's `scripts/eval/local_data/` files (keys renamable through the task's
/// `fields`); the others are the layouts of the datasets lm-evaluation-harness reads, with its `doc_to_text` /
/// `doc_to_choice` / `doc_to_target` logic (`lm_eval/tasks/{piqa,arc,super_glue/boolq,winogrande,lambada}`).
public enum TaskFormat: String, Sendable, CaseIterable, Equatable {
    /// `{query, choices: [String], gold: Int}`.
    case queryChoicesGold = "query_choices_gold"
    /// `{context_options: [String], continuation, gold: Int}`: partial scoring.
    case contextOptionsContinuation = "context_options_continuation"
    /// `{context, continuation}`: LAMBADA-style target after a context.
    case contextContinuation = "context_continuation"
    /// `{text}`: rolling perplexity.
    case text
    /// PIQA `{goal, sol1, sol2, label}`.
    case piqa
    /// AI2 ARC `{question, choices: {text: [..], label: [..]}, answerKey}`.
    case arc
    /// SuperGLUE BoolQ `{passage, question, label: 0|1}` (or `answer: Bool`); choices are `["no", "yes"]`.
    case boolq
    /// WinoGrande `{sentence, option1, option2, answer: "1"|"2"}`: partial scoring around the `_` blank.
    case winogrande
    /// LAMBADA `{text}`: context = all words but the last (split on " "), target = the last word.
    case lambada

    /// Roles the task's `fields` may rename, for the generic layouts.
    public var renamableRoles: [String] {
        switch self {
        case .queryChoicesGold: return ["query", "choices", "gold"]
        case .contextOptionsContinuation: return ["context_options", "continuation", "gold"]
        case .contextContinuation: return ["context", "continuation"]
        case .text: return ["text"]
        case .piqa, .arc, .boolq, .winogrande, .lambada: return []
        }
    }

    /// The request type rows of this layout make.
    public var outputType: TaskOutputType {
        switch self {
        case .queryChoicesGold, .contextOptionsContinuation, .piqa, .arc, .boolq, .winogrande: return .multipleChoice
        case .contextContinuation, .lambada: return .loglikelihood
        case .text: return .loglikelihoodRolling
        }
    }

    /// The prompt when the task gives no `template` (lm-eval's `doc_to_text` for the dataset layouts).
    public func defaultTemplate(fields: [String: String]) -> String {
        switch self {
        case .queryChoicesGold: return "{{\(fields["query"] ?? "query")}}"
        case .contextOptionsContinuation, .winogrande, .lambada: return "{{context}}"
        case .contextContinuation: return "{{\(fields["context"] ?? "context")}}"
        case .text: return "{{\(fields["text"] ?? "text")}}"
        case .piqa, .arc: return "Question: {{\(self == .piqa ? "goal" : "question")}}\nAnswer:"
        case .boolq: return "{{passage}}\nQuestion: {{question}}?\nAnswer:"
        }
    }

    /// Reads one row.
    /// - Parameters:
    ///   - row: the parsed JSON line.
    ///   - fields: role → key renames from the task file.
    ///   - path: data file (for errors).
    ///   - line: 1-based line number (for errors).
    /// - Throws: `EvaluationError.invalidDataField` naming the file, line and field when a field is missing or
    ///   has the wrong type or value.
    public func document(from row: JSONValue, fields: [String: String], path: String, line: Int) throws(EvaluationError)
        -> TaskDocument
    {
        let reader = RowReader(row: row, path: path, line: line)
        guard let object = row.objectValue else {
            throw .invalidDataLine(path: path, line: line, reason: "found \(row.typeName)")
        }
        var values: [String: String] = [:]
        for (key, value) in object.pairs {
            switch value {
            case .string(let s): values[key] = s
            case .integer, .number, .bool: values[key] = JSONWriter.serialize(value)
            default: break
            }
        }
        func key(_ role: String) -> String { fields[role] ?? role }
        let content: TaskDocument.Content
        switch self {
        case .queryChoicesGold:
            if fields["query"] != nil { _ = try reader.string(key("query")) }
            let choices = try reader.strings(key("choices"))
            content = .choices(choices, gold: try reader.index(key("gold"), count: choices.count))
        case .contextOptionsContinuation:
            let options = try reader.strings(key("context_options"))
            content = .contextOptions(
                options, continuation: try reader.string(key("continuation")),
                gold: try reader.index(key("gold"), count: options.count))
        case .contextContinuation:
            _ = try reader.string(key("context"))
            content = .target(try reader.string(key("continuation")))
        case .text:
            content = .text(try reader.string(key("text")))
        case .piqa:
            _ = try reader.string("goal")
            let choices = [try reader.string("sol1"), try reader.string("sol2")]
            content = .choices(choices, gold: try reader.index("label", count: 2))
        case .arc:
            _ = try reader.string("question")
            let texts = try reader.strings("choices", member: "text")
            let labels = try reader.strings("choices", member: "label")
            guard labels.count == texts.count else {
                throw .invalidDataField(path: path, line: line, field: "choices/label", reason: "has \(labels.count) labels for \(texts.count) texts")
            }
            let answer = try reader.string("answerKey")
            guard let gold = labels.firstIndex(of: answer) else {
                throw .invalidDataField(path: path, line: line, field: "answerKey", reason: "'\(answer)' is not one of the labels \(labels)")
            }
            content = .choices(texts, gold: gold)
        case .boolq:
            _ = try reader.string("passage")
            _ = try reader.string("question")
            let gold: Int
            if let answer = object["answer"], object["label"] == nil {
                guard let flag = answer.boolValue else {
                    throw .invalidDataField(path: path, line: line, field: "answer", reason: "expected a boolean, found \(answer.typeName)")
                }
                gold = flag ? 1 : 0
            } else {
                gold = try reader.index("label", count: 2)
            }
            content = .choices(["no", "yes"], gold: gold)
        case .winogrande:
            let sentence = try reader.string("sentence")
            let options = [try reader.string("option1"), try reader.string("option2")]
            let answer = try reader.string("answer")
            guard let gold = ["1": 0, "2": 1][answer] else {
                throw .invalidDataField(path: path, line: line, field: "answer", reason: "expected \"1\" or \"2\", found \"\(answer)\"")
            }
            guard let blank = sentence.firstIndex(of: "_") else {
                throw .invalidDataField(path: path, line: line, field: "sentence", reason: "has no '_' blank")
            }
            let prefix = String(sentence[..<blank])
            let rest = String(sentence[sentence.index(after: blank)...])
            content = .contextOptions(
                options.map { prefix + $0 }, continuation: rest.trimmingWhitespace(), gold: gold)
        case .lambada:
            let text = try reader.string("text")
            let words = text.split(separator: " ", omittingEmptySubsequences: false)
            values["context"] = words.dropLast().joined(separator: " ")
            values["target"] = String(words.last ?? "")
            content = .target(values["target"]!)
        }
        return TaskDocument(line: line, row: row, fields: values, content: content)
    }
}

/// Typed access to the fields of one data row, with errors naming the file, line and field.
struct RowReader {
    let row: JSONValue
    let path: String
    let line: Int

    private func missing(_ field: String) -> EvaluationError {
        .invalidDataField(path: path, line: line, field: field, reason: "missing")
    }

    private func value(_ key: String) throws(EvaluationError) -> JSONValue {
        guard let value = row[key] else { throw missing(key) }
        return value
    }

    func string(_ key: String) throws(EvaluationError) -> String {
        let v = try value(key)
        guard let s = v.stringValue else {
            throw .invalidDataField(path: path, line: line, field: key, reason: "expected a string, found \(v.typeName)")
        }
        return s
    }

    func strings(_ key: String, member: String? = nil) throws(EvaluationError) -> [String] {
        var v = try value(key)
        var name = key
        if let member {
            name = key + "/" + member
            guard let inner = v[member] else { throw missing(name) }
            v = inner
        }
        guard let items = v.arrayValue, !items.isEmpty else {
            throw .invalidDataField(path: path, line: line, field: name, reason: "expected a non-empty array of strings, found \(v.typeName)")
        }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard let s = item.stringValue else {
                throw .invalidDataField(path: path, line: line, field: "\(name)/\(i)", reason: "expected a string, found \(item.typeName)")
            }
            out.append(s)
        }
        return out
    }

    /// An index into a list of `count` choices (an integer, or a string holding one, as some datasets store labels).
    func index(_ key: String, count: Int) throws(EvaluationError) -> Int {
        let v = try value(key)
        let number: Int64?
        if let s = v.stringValue { number = Int64(s) } else { number = v.intValue }
        guard let number else {
            throw .invalidDataField(path: path, line: line, field: key, reason: "expected an integer, found \(v.typeName)")
        }
        guard number >= 0, number < count else {
            throw .invalidDataField(path: path, line: line, field: key, reason: "\(number) is not a valid index for \(count) choices")
        }
        return Int(number)
    }
}

extension String {
    /// The string without leading and trailing whitespace (Python's `str.strip()`).
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
