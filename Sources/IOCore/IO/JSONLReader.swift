import CJSONC
import CZlib

/// Errors reading JSON Lines files.
public enum JSONLError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case readFailed(path: String, reason: String)
    case invalidJSON(path: String, line: Int, reason: String)
    case missingField(path: String, line: Int, field: String)
    case notAString(path: String, line: Int, field: String)

    public var description: String {
        switch self {
        case .cannotOpen(let p, let r): return "\(p): cannot open: \(r)"
        case .readFailed(let p, let r): return "\(p): read failed: \(r)"
        case .invalidJSON(let p, let l, let r): return "\(p):\(l): not a JSON object: \(r)"
        case .missingField(let p, let l, let f): return "\(p):\(l): field '\(f)' is missing"
        case .notAString(let p, let l, let f): return "\(p):\(l): field '\(f)': expected a string"
        }
    }
}

/// Streams JSON Lines corpora, plain or gzip-compressed (zlib's `gzread` reads both transparently), parsing each
/// line with json-c in strict mode with UTF-8 validation. Memory stays bounded by the longest line.
public enum JSONLReader {
    /// Calls `body` with the string value of `field` for every non-empty line of `path`, in order.
    /// - Throws: `JSONLError` naming the file, the line and the field; or whatever `body` throws.
    public static func forEachString(field: String, in path: String, _ body: (String) throws -> Void) throws {
        do { try OutputSafety.checkRegularFile(path) } catch {
            throw JSONLError.cannotOpen(path: path, reason: error.description)
        }
        guard let file = gzopen(path, "rb") else {
            throw JSONLError.cannotOpen(path: path, reason: "no such file or not readable")
        }
        defer { gzclose(file) }
        gzbuffer(file, 1 << 17)
        guard let tokener = json_tokener_new() else { throw JSONLError.readFailed(path: path, reason: "json-c allocation") }
        defer { json_tokener_free(tokener) }
        json_tokener_set_flags(tokener, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8)

        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var lineNumber = 0

        func handle(_ line: ArraySlice<UInt8>) throws {
            lineNumber += 1
            var bytes = line
            if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
            guard bytes.contains(where: { $0 != 0x20 && $0 != 0x09 }) else { return }
            json_tokener_reset(tokener)
            let object: OpaquePointer? = bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { chars in
                    json_tokener_parse_ex(tokener, chars.baseAddress, Int32(chars.count))
                }
            }
            let status = json_tokener_get_error(tokener)
            guard let object, status == json_tokener_success,
                json_tokener_get_parse_end(tokener) == bytes.count || bytes[(bytes.startIndex + json_tokener_get_parse_end(tokener))...].allSatisfy({ $0 == 0x20 || $0 == 0x09 })
            else {
                if let object { json_object_put(object) }
                let reason = status == json_tokener_success ? "unexpected content after the value" : String(cString: json_tokener_error_desc(status))
                throw JSONLError.invalidJSON(path: path, line: lineNumber, reason: reason)
            }
            defer { json_object_put(object) }
            guard json_object_get_type(object) == json_type_object else {
                throw JSONLError.invalidJSON(path: path, line: lineNumber, reason: "a line must hold a JSON object")
            }
            var value: OpaquePointer?
            guard json_object_object_get_ex(object, field, &value) != 0, let value else {
                throw JSONLError.missingField(path: path, line: lineNumber, field: field)
            }
            guard json_object_get_type(value) == json_type_string, let text = json_object_get_string(value) else {
                throw JSONLError.notAString(path: path, line: lineNumber, field: field)
            }
            let length = Int(json_object_get_string_len(value))
            let string = text.withMemoryRebound(to: UInt8.self, capacity: length) {
                String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
            }
            try body(string)
        }

        while true {
            let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if n < 0 {
                var code: Int32 = 0
                let message = gzerror(file, &code).map { String(cString: $0) } ?? "zlib error \(code)"
                throw JSONLError.readFailed(path: path, reason: message)
            }
            if n == 0 { break }
            var start = 0
            for i in 0..<Int(n) where chunk[i] == UInt8(ascii: "\n") {
                if pending.isEmpty {
                    try handle(chunk[start..<i])
                } else {
                    pending.append(contentsOf: chunk[start..<i])
                    try handle(pending[...])
                    pending.removeAll(keepingCapacity: true)
                }
                start = i + 1
            }
            pending.append(contentsOf: chunk[start..<Int(n)])
        }
        if !pending.isEmpty { try handle(pending[...]) }
    }

    /// The string values of `field` of every non-empty line.
    public static func strings(field: String, in path: String) throws -> [String] {
        var result: [String] = []
        try forEachString(field: field, in: path) { result.append($0) }
        return result
    }
}
