import Foundation
import Yams

/// Where a value starts in a YAML text (1-based).
public struct YAMLLocation: Sendable, Equatable {
    public let line: Int
    public let column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }
}

/// A parsed YAML document: its value as JSON and the location of every node, keyed by JSON pointer, so that
/// errors found later (schema violations) can name the YAML line.
public struct YAMLDocument: Sendable {
    public let value: JSONValue
    /// JSON pointer (`""` = the root, `/layers/0/method`) → where that value starts.
    public let locations: [String: YAMLLocation]
}

/// Reads one YAML document into `JSONValue` through libyaml (jpsim/Yams), the full YAML 1.2 syntax: block and flow
/// collections, plain, quoted and block scalars, comments.
///
/// Plain scalars are typed by the YAML 1.2 core schema (`YAMLScalar`), so `yes` stays a string as in JSON-minded
/// tools; quoted and block scalars are strings. Rejected, with file:line:column: syntax errors (libyaml's problem
/// mark), several documents, duplicate keys (also keys that differ in YAML but not as JSON strings, `1` and `"1"`),
/// non-scalar keys, anchors and aliases (a plan names each value once, and aliases could expand exponentially),
/// explicit tags, nesting deeper than `maximumDepth`, and texts over `maximumBytes`.
public enum YAMLReader {
    /// Collections nest at most this deep (libyaml itself stops at 1,000).
    public static let maximumDepth = 128
    /// Largest text accepted (plans are a few kilobytes).
    public static let maximumBytes = 1 << 20
    /// Most values converted: a second guard, after the anchor check, against texts that expand.
    public static let maximumValues = 1 << 20

    /// Parses `text`; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(YAMLError) -> YAMLDocument {
        guard text.utf8.count <= maximumBytes else {
            throw YAMLError(file: file, line: 1, column: 1, message: "YAML text of \(text.utf8.count) bytes is larger than the \(maximumBytes) bytes accepted")
        }
        // Yams builds and releases its node tree recursively; a deep text must not overflow a thread's small stack,
        // so parsing runs on a thread of its own with a large stack (reserved address space, touched only if used).
        let job = YAMLParseJob(text: text, file: file)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            job.run()
            done.signal()
        }
        thread.stackSize = 256 << 20
        thread.start()
        done.wait()
        return try job.result.get()
    }
}

/// One parse, run on the large-stack thread.
final class YAMLParseJob: @unchecked Sendable {
    let text: String
    let file: String
    var result: Result<YAMLDocument, YAMLError> = .failure(YAMLError(file: "", line: 1, column: 1, message: "not parsed"))

    init(text: String, file: String) {
        self.text = text
        self.file = file
    }

    func run() {
        do {
            // The parser must outlive the conversion: nodes hold their anchors weakly, and the parser owns them.
            let parser: Parser
            let root: Node?
            do {
                parser = try Parser(yaml: text)
                root = try parser.singleRoot()
            } catch let error as YamlError {
                throw YAMLErrorTranslation.translate(error, text: text, file: file)
            }
            guard let root else {
                result = .success(YAMLDocument(value: .null, locations: ["": YAMLLocation(line: 1, column: 1)]))
                return
            }
            var converter = YAMLNodeConverter(file: file)
            let value = try withExtendedLifetime(parser) { () throws(YAMLError) in try converter.value(of: root, pointer: "", depth: 0) }
            result = .success(YAMLDocument(value: value, locations: converter.locations))
        } catch let error as YAMLError {
            result = .failure(error)
        } catch {
            result = .failure(YAMLError(file: file, line: 1, column: 1, message: "\(error)"))
        }
    }
}

/// Turns Yams' errors into `YAMLError` with libyaml's 1-based problem position.
enum YAMLErrorTranslation {
    static func translate(_ error: YamlError, text: String, file: String) -> YAMLError {
        func message(_ problem: String, _ context: YamlError.Context?) -> String {
            guard let context else { return problem }
            return "\(problem) (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
        }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            if problem == "but found another document" {
                return YAMLError(file: file, line: mark.line, column: mark.column, message: "several documents (---) in one file; a plan is one document")
            }
            if problem.contains("tab") || problem.contains("cannot start any token"), lineStartsWithTab(text, mark.line) {
                return YAMLError(file: file, line: mark.line, column: mark.column, message: "tab characters cannot indent YAML; use spaces (\(problem))")
            }
            return YAMLError(file: file, line: mark.line, column: mark.column, message: message(problem, context))
        case let .reader(problem, offset, _, _):
            let (line, column) = position(ofCharacter: offset ?? 0, in: text)
            return YAMLError(file: file, line: line, column: column, message: problem)
        case let .duplicatedKeysInMapping(duplicates, context):
            let keys = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
            return YAMLError(file: file, line: context.mark.line, column: context.mark.column, message: "duplicate key \(keys): each key may appear once in a mapping")
        default:
            return YAMLError(file: file, line: 1, column: 1, message: "\(error)")
        }
    }

    /// Whether 1-based `line` of `text` is indented with a tab.
    static func lineStartsWithTab(_ text: String, _ line: Int) -> Bool {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard line >= 1, line <= lines.count else { return false }
        return lines[line - 1].drop { $0 == " " }.first == "\t"
    }

    /// 1-based line and column of the character at `offset`.
    static func position(ofCharacter offset: Int, in text: String) -> (Int, Int) {
        var line = 1
        var column = 1
        for character in text.prefix(offset) {
            if character == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        return (line, column)
    }
}

/// Converts Yams' node tree into `JSONValue`, recording each node's location by JSON pointer.
struct YAMLNodeConverter {
    let file: String
    var locations: [String: YAMLLocation] = [:]
    var values = 0

    init(file: String) { self.file = file }

    func location(_ node: Node) -> YAMLLocation {
        YAMLLocation(line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
    }

    func error(_ node: Node, _ message: String) -> YAMLError {
        let at = location(node)
        return YAMLError(file: file, line: at.line, column: at.column, message: message)
    }

    /// Rejects what a plan does not use: anchors and aliases (an alias is the anchored node itself, so the first
    /// of them met in document order is the anchor), and explicit tags. Keys skip the tag check: Yams resolves
    /// their tags in place while it looks for duplicate keys.
    func check(_ node: Node, isKey: Bool = false) throws(YAMLError) {
        if node.anchor != nil {
            throw error(node, "anchors (&) and aliases (*) are not supported; write each value out")
        }
        if isKey { return }
        switch node {
        case .scalar(let scalar):
            let tag = scalar.tag.description
            let quotedString = scalar.style != .plain && (tag == Tag.Name.str.rawValue || tag.isEmpty)
            guard tag.isEmpty || quotedString else { throw error(node, "tags (\(tag)) are not supported; write the plain value") }
        case .mapping(let mapping):
            guard mapping.tag.description.isEmpty else { throw error(node, "tags (\(mapping.tag)) are not supported") }
        case .sequence(let sequence):
            guard sequence.tag.description.isEmpty else { throw error(node, "tags (\(sequence.tag)) are not supported") }
        case .alias:
            throw error(node, "aliases (*) are not supported; write each value out")
        }
    }

    mutating func value(of node: Node, pointer: String, depth: Int) throws(YAMLError) -> JSONValue {
        try check(node)
        guard depth < YAMLReader.maximumDepth else {
            throw error(node, "collections nested deeper than \(YAMLReader.maximumDepth) levels")
        }
        values += 1
        guard values <= YAMLReader.maximumValues else {
            throw error(node, "more than \(YAMLReader.maximumValues) values in one document")
        }
        if locations[pointer] == nil { locations[pointer] = location(node) }
        switch node {
        case .scalar(let scalar):
            return scalar.style == .plain ? YAMLScalar.resolve(scalar.string) : .string(scalar.string)
        case .sequence(let sequence):
            var items: [JSONValue] = []
            for (index, item) in sequence.enumerated() {
                items.append(try value(of: item, pointer: pointer + "/\(index)", depth: depth + 1))
            }
            return .array(items)
        case .mapping(let mapping):
            var object = JSONObject()
            for (keyNode, valueNode) in mapping {
                try check(keyNode, isKey: true)
                guard case .scalar(let keyScalar) = keyNode else {
                    throw error(keyNode, "mapping keys must be scalars (strings)")
                }
                let key = keyScalar.string
                guard !object.contains(key) else { throw error(keyNode, "duplicate key '\(key)': each key may appear once in a mapping") }
                let memberPointer = pointer + "/" + key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
                object[key] = try value(of: valueNode, pointer: memberPointer, depth: depth + 1)
                // A member is located at its key, as an editor shows it.
                locations[memberPointer] = location(keyNode)
            }
            return .object(object)
        case .alias:
            throw error(node, "aliases (*) are not supported; write each value out")
        }
    }
}
