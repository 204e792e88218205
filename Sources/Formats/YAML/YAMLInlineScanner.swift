/// Reads the values that sit on one line: plain and quoted scalars and flow collections (`[a, b]`, `{k: v}`,
/// nested), followed by an optional `# comment`. Every error carries the line and the 1-based column.
struct YAMLInlineScanner {
    let chars: [Character]
    let line: Int
    let file: String
    var position: Int
    /// Records the location of every value read, by JSON pointer.
    var locations: [String: YAMLLocation] = [:]

    init(chars: [Character], line: Int, file: String, position: Int) {
        self.chars = chars
        self.line = line
        self.file = file
        self.position = position
    }

    /// Flow collections nest at most this deep.
    static let maximumDepth = 64

    func error(_ message: String, at column: Int? = nil) -> YAMLError {
        YAMLError(file: file, line: line, column: (column ?? position) + 1, message: message)
    }

    var atEnd: Bool { position >= chars.count }
    var current: Character? { position < chars.count ? chars[position] : nil }

    mutating func skipSpaces() {
        while position < chars.count, chars[position] == " " { position += 1 }
    }

    /// Whether only spaces and an optional comment remain.
    func restIsBlank() -> Bool {
        var p = position
        while p < chars.count, chars[p] == " " { p += 1 }
        return p == chars.count || chars[p] == "#"
    }

    /// Skips trailing spaces and a comment; anything else is an error.
    mutating func finishLine(after what: String) throws(YAMLError) {
        skipSpaces()
        guard restIsBlank() else {
            throw error("unexpected text after \(what); expected the end of the line or a # comment")
        }
        position = chars.count
    }

    /// Rejects the YAML features outside the subset, at the character that introduces them.
    func rejectUnsupported(_ c: Character) throws(YAMLError) {
        switch c {
        case "&": throw error("anchors (&) are not supported by moekit's YAML subset")
        case "*": throw error("aliases (*) are not supported by moekit's YAML subset")
        case "!": throw error("tags (!) are not supported by moekit's YAML subset")
        case "|", ">": throw error("block scalars (| and >) are not supported; write the text on one line in quotes")
        case "%", "@", "`": throw error("'\(c)' cannot start a plain scalar; quote the value")
        case "?": throw error("complex keys (?) are not supported by moekit's YAML subset")
        default: return
        }
    }

    /// A value in block context: the rest of the line holds exactly one scalar or flow collection.
    mutating func blockValue(pointer: String) throws(YAMLError) -> JSONValue {
        skipSpaces()
        let start = position
        guard let c = current else { return .null }
        let value: JSONValue
        switch c {
        case "[", "{", "\"", "'":
            value = try flowValue(pointer: pointer, depth: 0)
            try finishLine(after: "the value")
        case "-" where position + 1 == chars.count || chars[position + 1] == " ":
            throw error("a sequence item cannot start on the line of a mapping key; put it on the next line")
        default:
            try rejectUnsupported(c)
            var end = position
            while end < chars.count, !(chars[end] == "#" && end > position && chars[end - 1] == " ") { end += 1 }
            var text = String(chars[position..<end])
            while text.last == " " { text.removeLast() }
            if let colon = Self.mappingColon(in: Array(text)) {
                throw error("a nested mapping cannot start on the line of a key; put it on the next line, indented", at: position + colon)
            }
            position = chars.count
            value = YAMLScalar.resolve(text)
        }
        locations[pointer] = YAMLLocation(line: line, column: start + 1)
        return value
    }

    /// Offset of a `:` that ends a plain mapping key (followed by a space or the end), if any.
    static func mappingColon(in text: [Character]) -> Int? {
        var i = 0
        while i < text.count {
            if text[i] == "#", i > 0, text[i - 1] == " " { return nil }
            if text[i] == ":", i + 1 == text.count || text[i + 1] == " " { return i }
            i += 1
        }
        return nil
    }

    /// A value in flow context (inside `[...]` or `{...}`) or a quoted scalar or collection in block context.
    mutating func flowValue(pointer: String, depth: Int) throws(YAMLError) -> JSONValue {
        guard depth < Self.maximumDepth else { throw error("flow collections nested deeper than \(Self.maximumDepth)") }
        skipSpaces()
        guard let c = current else { throw error("expected a value before the end of the line") }
        let start = position
        let value: JSONValue
        switch c {
        case "[": value = try flowSequence(pointer: pointer, depth: depth)
        case "{": value = try flowMapping(pointer: pointer, depth: depth)
        case "\"": value = .string(try doubleQuoted())
        case "'": value = .string(try singleQuoted())
        default:
            try rejectUnsupported(c)
            value = YAMLScalar.resolve(flowPlain(key: false))
        }
        locations[pointer] = YAMLLocation(line: line, column: start + 1)
        return value
    }

    /// A plain scalar inside a flow collection: ends at `,`, `]`, `}`, ` #`, or (for keys) `:`.
    mutating func flowPlain(key: Bool) -> String {
        let start = position
        while let c = current {
            if c == "," || c == "]" || c == "}" { break }
            if c == "#", position > start, chars[position - 1] == " " { break }
            if c == ":", key || position + 1 == chars.count || " ,]}".contains(chars[position + 1]) { break }
            position += 1
        }
        var text = String(chars[start..<position])
        while text.last == " " { text.removeLast() }
        return text
    }

    mutating func flowSequence(pointer: String, depth: Int) throws(YAMLError) -> JSONValue {
        let open = position
        position += 1
        var items: [JSONValue] = []
        while true {
            skipSpaces()
            guard let c = current, c != "#" else { throw error("flow sequence opened at column \(open + 1) must close with ']' on the same line") }
            if c == "]" { position += 1; return .array(items) }
            items.append(try flowValue(pointer: pointer + "/\(items.count)", depth: depth + 1))
            skipSpaces()
            guard let next = current, next != "#" else { throw error("flow sequence opened at column \(open + 1) must close with ']' on the same line") }
            if next == "," { position += 1; continue }
            guard next == "]" else { throw error("expected ',' or ']' in a flow sequence, found '\(next)'") }
        }
    }

    mutating func flowMapping(pointer: String, depth: Int) throws(YAMLError) -> JSONValue {
        let open = position
        position += 1
        var object = JSONObject()
        while true {
            skipSpaces()
            guard let c = current, c != "#" else { throw error("flow mapping opened at column \(open + 1) must close with '}' on the same line") }
            if c == "}" { position += 1; return .object(object) }
            let keyColumn = position
            let key: String
            switch c {
            case "\"": key = try doubleQuoted()
            case "'": key = try singleQuoted()
            case "[", "{": throw error("flow collections cannot be mapping keys")
            default:
                try rejectUnsupported(c)
                key = flowPlain(key: true)
            }
            guard !key.isEmpty else { throw error("expected a mapping key") }
            guard !object.contains(key) else { throw error("duplicate key '\(key)'", at: keyColumn) }
            skipSpaces()
            guard current == ":" else { throw error("expected ':' after the key '\(key)'") }
            position += 1
            let memberPointer = pointer + "/" + Self.escape(key)
            skipSpaces()
            if current == "," || current == "}" {
                object[key] = .null
                locations[memberPointer] = YAMLLocation(line: line, column: keyColumn + 1)
            } else {
                object[key] = try flowValue(pointer: memberPointer, depth: depth + 1)
            }
            skipSpaces()
            guard let next = current, next != "#" else { throw error("flow mapping opened at column \(open + 1) must close with '}' on the same line") }
            if next == "," { position += 1; continue }
            guard next == "}" else { throw error("expected ',' or '}' in a flow mapping, found '\(next)'") }
        }
    }

    /// The next character of a quoted scalar opened at `open`; quoted scalars must close on the same line.
    mutating func nextInQuotes(opened open: Int, _ kind: String) throws(YAMLError) -> Character {
        guard let c = current else { throw error("\(kind) scalar opened at column \(open + 1) must close on the same line") }
        position += 1
        return c
    }

    /// `'…'` with `''` for a quote; must close on the same line.
    mutating func singleQuoted() throws(YAMLError) -> String {
        let open = position
        position += 1
        var text = ""
        while true {
            let c = try nextInQuotes(opened: open, "single-quoted")
            if c == "'" {
                if current == "'" { text.append("'"); position += 1; continue }
                return text
            }
            text.append(c)
        }
    }

    /// `"…"` with JSON-style escapes plus `\0`, `\e`, `\xXX`, `\UXXXXXXXX`; must close on the same line.
    mutating func doubleQuoted() throws(YAMLError) -> String {
        let open = position
        position += 1
        var text = ""
        while true {
            let c = try nextInQuotes(opened: open, "double-quoted")
            if c == "\"" { return text }
            guard c == "\\" else { text.append(c); continue }
            let escape = position - 1
            guard let e = current else { throw error("escape at the end of the line", at: escape) }
            position += 1
            if let replacement = Self.singleCharacterEscapes[e] {
                text.append(replacement)
                continue
            }
            switch e {
            case "x", "u", "U":
                let count = e == "x" ? 2 : e == "u" ? 4 : 8
                guard position + count <= chars.count, let code = UInt32(String(chars[position..<(position + count)]), radix: 16),
                    let scalar = Unicode.Scalar(code)
                else { throw error("invalid \\\(e) escape: expected \(count) hexadecimal digits of a Unicode scalar", at: escape) }
                text.unicodeScalars.append(scalar)
                position += count
            default:
                throw error("unknown escape '\\\(e)' in a double-quoted scalar", at: escape)
            }
        }
    }

    /// Double-quoted escapes of one character: YAML 1.2's set (JSON's plus `\0`, `\a`, `\v`, `\e`, `\ `).
    static let singleCharacterEscapes: [Character: Character] = [
        "\\": "\\", "\"": "\"", "/": "/", " ": " ", "0": "\u{0}", "a": "\u{7}", "b": "\u{8}", "t": "\t", "n": "\n",
        "v": "\u{B}", "f": "\u{C}", "r": "\r", "e": "\u{1B}",
    ]

    /// JSON-pointer escaping of one reference token.
    static func escape(_ key: String) -> String {
        key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }
}
