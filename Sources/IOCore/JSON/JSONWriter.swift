/// Serialises `JSONValue` trees. Output is deterministic: object keys keep their order.
public enum JSONWriter {
    /// Serialises `value`. With `indent` > 0 the output is pretty-printed with that many spaces per level.
    public static func serialize(_ value: JSONValue, indent: Int = 0) -> String {
        var out = ""
        write(value, into: &out, indent: indent, level: 0)
        return out
    }

    /// Serialises `value` as UTF-8 bytes.
    public static func bytes(_ value: JSONValue, indent: Int = 0) -> [UInt8] {
        Array(serialize(value, indent: indent).utf8)
    }

    /// Formats a double the shortest way that reads back to the same value; integral values keep a ".0".
    public static func formatNumber(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        return "\(d)"
    }

    /// Quotes and escapes a string as JSON.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func write(_ value: JSONValue, into out: inout String, indent: Int, level: Int) {
        let newline = indent > 0 ? "\n" : ""
        let pad = String(repeating: " ", count: indent * (level + 1))
        let closePad = String(repeating: " ", count: indent * level)
        let colon = indent > 0 ? ": " : ":"
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .integer(let i): out += String(i)
        case .number(let d): out += formatNumber(d)
        case .string(let s): out += quote(s)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            out += "[" + newline
            for (i, item) in items.enumerated() {
                out += pad
                write(item, into: &out, indent: indent, level: level + 1)
                out += (i + 1 < items.count ? "," : "") + newline
            }
            out += closePad + "]"
        case .object(let object):
            if object.count == 0 { out += "{}"; return }
            out += "{" + newline
            for (i, pair) in object.pairs.enumerated() {
                out += pad + quote(pair.key) + colon
                write(pair.value, into: &out, indent: indent, level: level + 1)
                out += (i + 1 < object.count ? "," : "") + newline
            }
            out += closePad + "}"
        }
    }
}
