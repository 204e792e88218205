/// Errors from the strict JSON parser. Offsets are byte offsets into the parsed text.
public enum JSONParseError: Error, CustomStringConvertible, Equatable {
    case invalidUTF8(offset: Int)
    case unexpectedEnd
    case unexpectedCharacter(offset: Int, found: String, expected: String)
    case duplicateKey(String, offset: Int)
    case tooDeep(offset: Int)
    case invalidNumber(offset: Int)
    case invalidEscape(offset: Int)
    case trailingContent(offset: Int)

    public var description: String {
        switch self {
        case .invalidUTF8(let o): return "invalid UTF-8 at byte \(o)"
        case .unexpectedEnd: return "unexpected end of JSON text"
        case .unexpectedCharacter(let o, let found, let expected):
            return "unexpected \(found) at byte \(o), expected \(expected)"
        case .duplicateKey(let k, let o): return "duplicate key \"\(k)\" at byte \(o)"
        case .tooDeep(let o): return "nesting deeper than \(JSONParser.maximumDepth) at byte \(o)"
        case .invalidNumber(let o): return "invalid number at byte \(o)"
        case .invalidEscape(let o): return "invalid string escape at byte \(o)"
        case .trailingContent(let o): return "unexpected content after the JSON value at byte \(o)"
        }
    }
}

/// A strict RFC 8259 JSON parser over raw bytes.
///
/// Unlike Foundation's `JSONSerialization` it rejects duplicate object keys (safetensors' README disallows them,
/// and "last wins" parsers disagree with the reference reader), validates UTF-8, caps nesting depth, and keeps
/// key order. Leading and trailing whitespace is allowed.
public struct JSONParser {
    /// Deepest nesting accepted; deeper input is rejected instead of exhausting the stack.
    public static let maximumDepth = 256

    private let bytes: UnsafeRawBufferPointer
    private var position = 0

    /// Parses one JSON value that fills all of `bytes` (apart from whitespace).
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.position == bytes.count else { throw .trailingContent(offset: parser.position) }
        return value
    }

    /// Parses a JSON text held in a byte array.
    public static func parse(_ data: [UInt8]) throws(JSONParseError) -> JSONValue {
        // `withUnsafeBytes` cannot forward typed throws, so the result is carried out explicitly.
        let result: Result<JSONValue, JSONParseError> = data.withUnsafeBytes { buffer in
            do throws(JSONParseError) { return .success(try parse(buffer)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Parses a JSON text held in a string.
    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    private init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private func describe(_ byte: UInt8) -> String {
        if byte >= 0x20 && byte < 0x7f { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x\(String(byte, radix: 16))"
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws(JSONParseError) {
        guard position < bytes.count else { throw .unexpectedEnd }
        guard bytes[position] == byte else {
            throw .unexpectedCharacter(offset: position, found: describe(bytes[position]), expected: what)
        }
        position += 1
    }

    private mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth < JSONParser.maximumDepth else { throw .tooDeep(offset: position) }
        guard position < bytes.count else { throw .unexpectedEnd }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try parseLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try parseLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try parseLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default:
            throw .unexpectedCharacter(offset: position, found: describe(bytes[position]), expected: "a JSON value")
        }
    }

    private mutating func parseLiteral(_ literal: StaticString) throws(JSONParseError) {
        let start = position
        for i in 0..<literal.utf8CodeUnitCount {
            guard position < bytes.count else { throw .unexpectedEnd }
            guard bytes[position] == literal.utf8Start[i] else {
                throw .unexpectedCharacter(offset: start, found: describe(bytes[start]), expected: "\(literal)")
            }
            position += 1
        }
    }

    private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        position += 1
        var object = JSONObject()
        skipWhitespace()
        if position < bytes.count && bytes[position] == UInt8(ascii: "}") {
            position += 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            let keyOffset = position
            guard position < bytes.count else { throw .unexpectedEnd }
            guard bytes[position] == UInt8(ascii: "\"") else {
                throw .unexpectedCharacter(offset: position, found: describe(bytes[position]), expected: "a string key")
            }
            let key = try parseString()
            if object.contains(key) { throw .duplicateKey(key, offset: keyOffset) }
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':'")
            skipWhitespace()
            object[key] = try parseValue(depth: depth + 1)
            skipWhitespace()
            guard position < bytes.count else { throw .unexpectedEnd }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            try expect(UInt8(ascii: "}"), "',' or '}'")
            return .object(object)
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        position += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if position < bytes.count && bytes[position] == UInt8(ascii: "]") {
            position += 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            guard position < bytes.count else { throw .unexpectedEnd }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            try expect(UInt8(ascii: "]"), "',' or ']'")
            return .array(items)
        }
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw .unexpectedEnd }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[position]
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw .invalidEscape(offset: position)
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    private mutating func parseString() throws(JSONParseError) -> String {
        position += 1  // opening quote
        var utf8: [UInt8] = []
        var runStart = position
        while true {
            guard position < bytes.count else { throw .unexpectedEnd }
            let c = bytes[position]
            if c == UInt8(ascii: "\"") {
                utf8.append(contentsOf: bytes[runStart..<position])
                position += 1
                break
            }
            if c < 0x20 {
                throw .unexpectedCharacter(offset: position, found: describe(c), expected: "an escaped control character")
            }
            if c != UInt8(ascii: "\\") { position += 1; continue }
            utf8.append(contentsOf: bytes[runStart..<position])
            let escapeOffset = position
            position += 1
            guard position < bytes.count else { throw .unexpectedEnd }
            let e = bytes[position]
            position += 1
            switch e {
            case UInt8(ascii: "\""): utf8.append(0x22)
            case UInt8(ascii: "\\"): utf8.append(0x5C)
            case UInt8(ascii: "/"): utf8.append(0x2F)
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try parseHex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    guard position + 6 <= bytes.count, bytes[position] == UInt8(ascii: "\\"),
                        bytes[position + 1] == UInt8(ascii: "u")
                    else { throw .invalidEscape(offset: escapeOffset) }
                    position += 2
                    let low = try parseHex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw .invalidEscape(offset: escapeOffset) }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw .invalidEscape(offset: escapeOffset)
                }
                guard let u = Unicode.Scalar(scalar) else { throw .invalidEscape(offset: escapeOffset) }
                utf8.append(contentsOf: Array(String(Character(u)).utf8))
            default:
                throw .invalidEscape(offset: escapeOffset)
            }
            runStart = position
        }
        guard let text = String(validating: utf8, as: UTF8.self) else {
            throw .invalidUTF8(offset: runStart)
        }
        return text
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = position
        var isInteger = true
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        func digits(_ p: inout Int) -> Int {
            let s = p
            while p < bytes.count, bytes[p] >= UInt8(ascii: "0"), bytes[p] <= UInt8(ascii: "9") { p += 1 }
            return p - s
        }
        guard position < bytes.count else { throw .unexpectedEnd }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else if digits(&position) == 0 {
            throw .invalidNumber(offset: start)
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            guard digits(&position) > 0 else { throw .invalidNumber(offset: start) }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            isInteger = false
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard digits(&position) > 0 else { throw .invalidNumber(offset: start) }
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        if isInteger, let value = Int64(text) { return .integer(value) }
        guard let value = Double(text) else { throw .invalidNumber(offset: start) }
        return .number(value)
    }
}

extension JSONParseError {
    /// 1-based line and column of a JSON parse error's byte offset (the end of the text when it has none).
    public static func lineAndColumn(of error: JSONParseError, in bytes: [UInt8]) -> (Int, Int) {
        let offset: Int
        switch error {
        case .invalidUTF8(let o), .unexpectedCharacter(let o, _, _), .duplicateKey(_, let o), .tooDeep(let o),
            .invalidNumber(let o), .invalidEscape(let o), .trailingContent(let o):
            offset = o
        case .unexpectedEnd:
            offset = bytes.count
        }
        var line = 1
        var column = 1
        for byte in bytes.prefix(offset) {
            if byte == 0x0A { line += 1; column = 1 } else if byte & 0xC0 != 0x80 { column += 1 }
        }
        return (line, column)
    }
}
