/// Plain-scalar typing of the YAML 1.2 core schema (null, bool, int, float, string).
enum YAMLScalar {
    /// Types an unquoted scalar: `~`/`null`/empty → null, `true`/`false` (three spellings each) → bool, decimal,
    /// `0o` octal and `0x` hex integers → integer (a double when beyond Int64), decimal floats and `.inf`/`.nan`
    /// → number, anything else → string.
    static func resolve(_ text: String) -> JSONValue {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .number(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .number(-.infinity)
        case ".nan", ".NaN", ".NAN": return .number(.nan)
        default: break
        }
        if text.hasPrefix("0o"), text.count > 2, let value = Int64(text.dropFirst(2), radix: 8) { return .integer(value) }
        if text.hasPrefix("0x"), text.count > 2, let value = Int64(text.dropFirst(2), radix: 16) { return .integer(value) }
        if isDecimalInteger(text) {
            if let value = Int64(text.hasPrefix("+") ? String(text.dropFirst()) : text) { return .integer(value) }
            return .number(Double(text)!)
        }
        if isDecimalFloat(text), let value = Double(text) { return .number(value) }
        return .string(text)
    }

    /// `[-+]?[0-9]+`.
    private static func isDecimalInteger(_ text: String) -> Bool {
        var body = Substring(text)
        if body.first == "-" || body.first == "+" { body = body.dropFirst() }
        return !body.isEmpty && body.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
    private static func isDecimalFloat(_ text: String) -> Bool {
        var chars = Array(Substring(text))
        if chars.first == "-" || chars.first == "+" { chars.removeFirst() }
        var i = 0
        func digits() -> Int {
            let start = i
            while i < chars.count, chars[i].isASCII, chars[i].isNumber { i += 1 }
            return i - start
        }
        let whole = digits()
        var fraction = 0
        if i < chars.count, chars[i] == "." {
            i += 1
            fraction = digits()
        }
        guard whole > 0 || fraction > 0 else { return false }
        if i < chars.count, chars[i] == "e" || chars[i] == "E" {
            i += 1
            if i < chars.count, chars[i] == "-" || chars[i] == "+" { i += 1 }
            guard digits() > 0 else { return false }
        }
        return i == chars.count
    }
}
