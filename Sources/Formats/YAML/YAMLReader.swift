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

/// A reader for the subset of YAML that configuration files use, producing `JSONValue`.
///
/// Supported: block mappings and sequences by indentation (spaces only), `- ` items (including mappings and
/// sequences inside items), plain, single- and double-quoted scalars typed by the YAML 1.2 core schema,
/// one-line flow sequences and mappings (`[0, 29]`, `{file: a.jsonl, tokens: 4096}`, nested), `#` comments, and
/// one leading `---` document marker. Anything else (anchors, aliases, tags, block scalars `|`/`>`, multi-line
/// scalars or flow collections, tab indentation, several documents, duplicate keys) is an error naming
/// file:line:column. No YAML library is available to the package, and this subset keeps plans unambiguous.
public enum YAMLReader {
    /// Parses `text`; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(YAMLError) -> YAMLDocument {
        var parser = try YAMLBlockParser(text: text, file: file)
        return try parser.document()
    }
}

/// One non-blank, non-comment line.
struct YAMLLine {
    /// 1-based line number.
    let number: Int
    /// The characters, indentation included (items rewrite their `- ` to spaces).
    var chars: [Character]
    /// Column of the first non-space character (0-based).
    var indent: Int

    /// Whether the content starts a block sequence item (`-` followed by a space or the end of the line).
    var isSequenceItem: Bool {
        chars[indent] == "-" && (indent + 1 == chars.count || chars[indent + 1] == " ")
    }
}

/// The indentation-driven block structure; one-line values go through `YAMLInlineScanner`.
struct YAMLBlockParser {
    let file: String
    var lines: [YAMLLine] = []
    var index = 0
    var locations: [String: YAMLLocation] = [:]

    init(text: String, file: String) throws(YAMLError) {
        self.file = file
        var sawContent = false
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            var chars = Array(raw)
            if chars.last == "\r" { chars.removeLast() }
            if number == 1, chars.first == "\u{FEFF}" { chars.removeFirst() }
            var indent = 0
            while indent < chars.count, chars[indent] == " " { indent += 1 }
            if indent < chars.count, chars[indent] == "\t" {
                throw YAMLError(file: file, line: number, column: indent + 1, message: "tab characters cannot indent YAML; use spaces")
            }
            while let last = chars.last, last == " " || last == "\t" { chars.removeLast() }
            if indent >= chars.count || chars[indent] == "#" { continue }
            let content = String(chars[indent...])
            if indent == 0, content == "---" || content.hasPrefix("--- ") || content.hasPrefix("---\t") {
                let rest = content.dropFirst(3).drop { $0 == " " || $0 == "\t" }
                guard !sawContent else {
                    throw YAMLError(file: file, line: number, column: 1, message: "several documents (---) are not supported; a plan is one document")
                }
                guard rest.isEmpty || rest.first == "#" else {
                    throw YAMLError(file: file, line: number, column: 5, message: "content after the --- marker is not supported; start it on the next line")
                }
                sawContent = true
                continue
            }
            if indent == 0, content == "..." || content.hasPrefix("%") {
                throw YAMLError(file: file, line: number, column: 1, message: "document end markers and directives (..., %) are not supported")
            }
            sawContent = true
            lines.append(YAMLLine(number: number, chars: chars, indent: indent))
        }
    }

    func error(_ line: YAMLLine, column: Int, _ message: String) -> YAMLError {
        YAMLError(file: file, line: line.number, column: column + 1, message: message)
    }

    mutating func document() throws(YAMLError) -> YAMLDocument {
        guard !lines.isEmpty else { return YAMLDocument(value: .null, locations: ["": YAMLLocation(line: 1, column: 1)]) }
        let value = try block(indent: lines[0].indent, pointer: "")
        if index < lines.count {
            let line = lines[index]
            throw error(line, column: line.indent, "unexpected indentation: this line does not continue the structure above it")
        }
        return YAMLDocument(value: value, locations: locations)
    }

    /// A node whose first line is `lines[index]`, indented by exactly `indent`.
    mutating func block(indent: Int, pointer: String) throws(YAMLError) -> JSONValue {
        let line = lines[index]
        if line.isSequenceItem { return try sequence(indent: indent, pointer: pointer) }
        if try startsMappingKey(line) { return try mapping(indent: indent, pointer: pointer) }
        var scanner = YAMLInlineScanner(chars: line.chars, line: line.number, file: file, position: indent)
        let value = try scanner.blockValue(pointer: pointer)
        locations.merge(scanner.locations) { $1 }
        index += 1
        try rejectContinuation(after: line, indent: indent)
        return value
    }

    /// A value on one line may not continue on more-indented lines (multi-line scalars are outside the subset).
    func rejectContinuation(after line: YAMLLine, indent: Int) throws(YAMLError) {
        guard index < lines.count, lines[index].indent > indent else { return }
        let next = lines[index]
        throw error(next, column: next.indent, "unexpected indentation: multi-line scalars are not supported, and the value on line \(line.number) is complete")
    }

    /// Whether the content of `line` is `key:` or `key: value`.
    func startsMappingKey(_ line: YAMLLine) throws(YAMLError) -> Bool {
        let content = Array(line.chars[line.indent...])
        switch content[0] {
        case "\"", "'":
            var scanner = YAMLInlineScanner(chars: line.chars, line: line.number, file: file, position: line.indent)
            _ = content[0] == "\"" ? try scanner.doubleQuoted() : try scanner.singleQuoted()
            scanner.skipSpaces()
            return scanner.current == ":" && (scanner.position + 1 == line.chars.count || line.chars[scanner.position + 1] == " ")
        case "[", "{":
            return false
        default:
            return YAMLInlineScanner.mappingColon(in: content) != nil
        }
    }

    mutating func sequence(indent: Int, pointer: String) throws(YAMLError) -> JSONValue {
        var items: [JSONValue] = []
        while index < lines.count, lines[index].indent == indent, lines[index].isSequenceItem {
            let itemPointer = pointer + "/\(items.count)"
            var line = lines[index]
            if indent + 1 == line.chars.count {
                locations[itemPointer] = YAMLLocation(line: line.number, column: indent + 1)
                index += 1
                if index < lines.count, lines[index].indent > indent {
                    items.append(try block(indent: lines[index].indent, pointer: itemPointer))
                } else {
                    items.append(.null)
                }
            } else {
                // `- content`: the item is a node indented at the column of its content.
                line.chars[indent] = " "
                var contentIndent = indent + 1
                while contentIndent < line.chars.count, line.chars[contentIndent] == " " { contentIndent += 1 }
                line.indent = contentIndent
                lines[index] = line
                if line.chars[contentIndent] == "#" {
                    index += 1
                    locations[itemPointer] = YAMLLocation(line: line.number, column: indent + 1)
                    if index < lines.count, lines[index].indent > indent {
                        items.append(try block(indent: lines[index].indent, pointer: itemPointer))
                    } else {
                        items.append(.null)
                    }
                } else {
                    items.append(try block(indent: contentIndent, pointer: itemPointer))
                }
            }
            if index < lines.count, lines[index].indent > indent {
                let next = lines[index]
                throw error(next, column: next.indent, "unexpected indentation inside the sequence item of line \(line.number)")
            }
        }
        locations[pointer] = locations[pointer + "/0"] ?? locations[pointer]
        return .array(items)
    }

    mutating func mapping(indent: Int, pointer: String) throws(YAMLError) -> JSONValue {
        var object = JSONObject()
        var firstLocation: YAMLLocation?
        while index < lines.count, lines[index].indent == indent {
            let line = lines[index]
            guard !line.isSequenceItem else {
                throw error(line, column: indent, "expected a mapping key, found a sequence item ('- ')")
            }
            guard try startsMappingKey(line) else {
                throw error(line, column: indent, "expected 'key: value' in a mapping")
            }
            var scanner = YAMLInlineScanner(chars: line.chars, line: line.number, file: file, position: indent)
            let key: String
            switch line.chars[indent] {
            case "\"": key = try scanner.doubleQuoted()
            case "'": key = try scanner.singleQuoted()
            default:
                try scanner.rejectUnsupported(line.chars[indent])
                let colon = indent + YAMLInlineScanner.mappingColon(in: Array(line.chars[indent...]))!
                var text = String(line.chars[indent..<colon])
                while text.last == " " { text.removeLast() }
                key = text
                scanner.position = colon
            }
            scanner.skipSpaces()
            scanner.position += 1  // the ':'
            guard !object.contains(key) else { throw error(line, column: indent, "duplicate key '\(key)'") }
            let memberPointer = pointer + "/" + YAMLInlineScanner.escape(key)
            let keyLocation = YAMLLocation(line: line.number, column: indent + 1)
            if firstLocation == nil { firstLocation = keyLocation }
            if scanner.restIsBlank() {
                index += 1
                locations[memberPointer] = keyLocation
                if index < lines.count, lines[index].indent > indent {
                    object[key] = try block(indent: lines[index].indent, pointer: memberPointer)
                } else if index < lines.count, lines[index].indent == indent, lines[index].isSequenceItem {
                    object[key] = try sequence(indent: indent, pointer: memberPointer)
                } else {
                    object[key] = .null
                }
            } else {
                object[key] = try scanner.blockValue(pointer: memberPointer)
                locations.merge(scanner.locations) { $1 }
                locations[memberPointer] = keyLocation
                index += 1
                try rejectContinuation(after: line, indent: indent)
            }
        }
        if let firstLocation, locations[pointer] == nil { locations[pointer] = firstLocation }
        return .object(object)
    }
}
