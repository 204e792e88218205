import CPlatform

#if canImport(Glibc)
import Glibc
#endif

/// A single-pass reader of one JSON Lines object that extracts the text (and domain) string fields without building
/// a document tree: the fast path of `CorpusReader`.
///
/// It accepts a strict subset of what json-c accepts and returns the same strings json-c would; everything else
/// (any error, and any unusual but valid construct) makes it return nil, and the caller parses the line with json-c,
/// which decides and words the error. Outside the subset are: whitespace other than space and tab, raw control
/// characters in strings, escapes in keys, `\u0000` and lone surrogate escapes, numbers with exponents or over 18
/// integer or fraction digits, nesting deeper than 16, a repeated text or domain key, and keys or strings that are
/// not valid UTF-8. Text and domain values are validated as UTF-8 (`moekit_utf8_valid`) unless all ASCII.
final class JSONLineScanner {
    /// The fields to extract, as UTF-8 bytes.
    let textField: [UInt8]
    let domainField: [UInt8]?
    /// Scratch space for unescaping (grown to the longest escaped value).
    private var scratch = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 1 << 12)

    init(textField: String, domainField: String?) {
        self.textField = Array(textField.utf8)
        self.domainField = domainField.map { Array($0.utf8) }
    }

    deinit { scratch.deallocate() }

    /// The text and domain strings of `line` (without its newline), or nil when json-c has to decide.
    func scan(_ line: UnsafeBufferPointer<UInt8>) -> (text: String, domain: String?)? {
        guard let (text, domain) = scanBytes(line) else { return nil }
        return (String(decoding: text, as: UTF8.self), domain)
    }

    /// The text of `line` as validated UTF-8 bytes (inside `line`, or unescaped into scratch space that the next call
    /// reuses) and the domain string, or nil when json-c has to decide.
    func scanBytes(_ line: UnsafeBufferPointer<UInt8>) -> (text: UnsafeBufferPointer<UInt8>, domain: String?)? {
        guard let base = line.baseAddress, line.count > 0 else { return nil }
        var cursor = Cursor(position: base, end: base + line.count)
        var fields = Fields()
        guard textField.withUnsafeBufferPointer({ text in
            (domainField ?? []).withUnsafeBufferPointer { domain in
                cursor.skipSpace()
                guard cursor.scanObject(depth: 1, text: text, domain: domainField == nil ? nil : domain, fields: &fields)
                else { return false }
                cursor.skipSpace()
                return cursor.position == cursor.end
            }
        }) else { return nil }
        var domain: String?
        if domainField != nil {
            // Copied into a String before the text reuses the scratch space.
            guard let domainValue = fields.domain, let bytes = makeBytes(domainValue) else { return nil }
            domain = String(decoding: bytes, as: UTF8.self)
        }
        guard let textValue = fields.text, let text = makeBytes(textValue) else { return nil }
        return (text, domain)
    }

    /// The bytes of a scanned value, unescaped; nil when they are not valid UTF-8 or hold an escape outside the subset.
    private func makeBytes(_ value: StringValue) -> UnsafeBufferPointer<UInt8>? {
        let raw = UnsafeBufferPointer(start: value.start, count: value.end - value.start)
        guard value.escaped else { return !value.highBytes || moekit_utf8_valid(raw.baseAddress, raw.count) != 0 ? raw : nil }
        // Unescaping never lengthens: `\uXXXX` becomes at most 3 bytes, a surrogate pair's 12 bytes become 4.
        if scratch.count < raw.count {
            scratch.deallocate()
            scratch = .allocate(capacity: max(raw.count, 2 * scratch.count))
        }
        let out = scratch.baseAddress!
        var written = 0
        var i = 0
        let n = raw.count
        let source = raw.baseAddress!
        while i < n {
            // Copy up to the next backslash in one go.
            let run: Int
            if let hit = memchr(source + i, 0x5C, n - i) {
                run = UnsafePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - (source + i)
            } else {
                run = n - i
            }
            if run > 0 {
                (out + written).update(from: source + i, count: run)
                written += run
                i += run
            }
            guard i < n else { break }
            // The scanner has checked that an escape character follows every backslash.
            let kind = raw[i + 1]
            i += 2
            switch kind {
            case 0x22, 0x5C, 0x2F: out[written] = kind
            case 0x62: out[written] = 0x08
            case 0x66: out[written] = 0x0C
            case 0x6E: out[written] = 0x0A
            case 0x72: out[written] = 0x0D
            case 0x74: out[written] = 0x09
            case 0x75:
                guard let unit = Self.hex4(raw, i) else { return nil }  // checked by the scanner too
                i += 4
                var scalar = UInt32(unit)
                if unit >= 0xD800 && unit < 0xDC00 {
                    guard i + 6 <= n, raw[i] == 0x5C, raw[i + 1] == 0x75, let low = Self.hex4(raw, i + 2),
                        low >= 0xDC00 && low < 0xE000
                    else { return nil }
                    i += 6
                    scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                } else if unit >= 0xDC00 && unit < 0xE000 || unit == 0 {
                    return nil
                }
                written += Self.writeUTF8(scalar, to: out + written)
                continue
            default: return nil
            }
            written += 1
        }
        // Escapes decode to well-formed UTF-8; raw bytes ≥ 0x80 still need the check.
        return !value.highBytes || moekit_utf8_valid(out, written) != 0 ? UnsafeBufferPointer(start: out, count: written) : nil
    }

    fileprivate static func hex4(_ raw: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt16? {
        guard at + 4 <= raw.count else { return nil }
        var value: UInt16 = 0
        for k in 0..<4 {
            let c = raw[at + k]
            let digit: UInt8
            switch c {
            case 0x30...0x39: digit = c - 0x30
            case 0x41...0x46: digit = c - 0x41 + 10
            case 0x61...0x66: digit = c - 0x61 + 10
            default: return nil
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    /// Writes `scalar` as UTF-8 at `out`; returns the byte count.
    private static func writeUTF8(_ scalar: UInt32, to out: UnsafeMutablePointer<UInt8>) -> Int {
        switch scalar {
        case ..<0x80:
            out[0] = UInt8(scalar)
            return 1
        case ..<0x800:
            out[0] = UInt8(0xC0 | scalar >> 6)
            out[1] = UInt8(0x80 | scalar & 0x3F)
            return 2
        case ..<0x10000:
            out[0] = UInt8(0xE0 | scalar >> 12)
            out[1] = UInt8(0x80 | (scalar >> 6) & 0x3F)
            out[2] = UInt8(0x80 | scalar & 0x3F)
            return 3
        default:
            out[0] = UInt8(0xF0 | scalar >> 18)
            out[1] = UInt8(0x80 | (scalar >> 12) & 0x3F)
            out[2] = UInt8(0x80 | (scalar >> 6) & 0x3F)
            out[3] = UInt8(0x80 | scalar & 0x3F)
            return 4
        }
    }

    /// A string value's bytes between its quotes.
    struct StringValue {
        var start: UnsafePointer<UInt8>
        var end: UnsafePointer<UInt8>
        var escaped: Bool
        /// Whether any raw byte is ≥ 0x80 (otherwise the value is ASCII and needs no UTF-8 validation).
        var highBytes: Bool
    }

    /// The top-level fields found so far.
    struct Fields {
        var text: StringValue?
        var domain: StringValue?
        var sawText = false
        var sawDomain = false
    }

    /// A position in the line; every `scan…` returns false as soon as the line leaves the subset.
    struct Cursor {
        var position: UnsafePointer<UInt8>
        let end: UnsafePointer<UInt8>

        @inline(__always)
        mutating func skipSpace() {
            while position < end, position.pointee == 0x20 || position.pointee == 0x09 { position += 1 }
        }

        @inline(__always)
        mutating func take(_ byte: UInt8) -> Bool {
            guard position < end, position.pointee == byte else { return false }
            position += 1
            return true
        }

        /// `{` … `}`; at depth 1 records the text and domain fields.
        mutating func scanObject(
            depth: Int, text: UnsafeBufferPointer<UInt8>, domain: UnsafeBufferPointer<UInt8>?, fields: inout Fields
        ) -> Bool {
            guard depth <= 16, take(0x7B) else { return false }
            skipSpace()
            if take(0x7D) { return true }
            while true {
                guard let key = scanString(), !key.escaped, !key.highBytes || Self.isValidUTF8(key) else {
                    return false
                }
                skipSpace()
                guard take(0x3A) else { return false }
                skipSpace()
                if depth == 1, Self.equal(key, text) {
                    guard !fields.sawText else { return false }
                    fields.sawText = true
                    guard position < end, position.pointee == 0x22 else {
                        // Not a string: json-c words the error.
                        return false
                    }
                    guard let value = scanString() else { return false }
                    fields.text = value
                } else if depth == 1, let domain, Self.equal(key, domain) {
                    guard !fields.sawDomain else { return false }
                    fields.sawDomain = true
                    guard position < end, position.pointee == 0x22, let value = scanString() else { return false }
                    fields.domain = value
                } else {
                    guard scanValue(depth: depth) else { return false }
                }
                skipSpace()
                if take(0x2C) {
                    skipSpace()
                    continue
                }
                return take(0x7D)
            }
        }

        /// Any value other than at a captured field.
        mutating func scanValue(depth: Int) -> Bool {
            guard position < end else { return false }
            switch position.pointee {
            case 0x22:
                guard let value = scanString() else { return false }
                return !value.highBytes || Self.isValidUTF8(value)
            case 0x7B:
                var ignored = Fields()
                return scanObject(depth: depth + 1, text: .init(start: nil, count: 0), domain: nil, fields: &ignored)
            case 0x5B: return scanArray(depth: depth + 1)
            case 0x74: return scanLiteral("true")
            case 0x66: return scanLiteral("false")
            case 0x6E: return scanLiteral("null")
            case 0x2D, 0x30...0x39: return scanNumber()
            default: return false
            }
        }

        mutating func scanArray(depth: Int) -> Bool {
            guard depth <= 16, take(0x5B) else { return false }
            skipSpace()
            if take(0x5D) { return true }
            while true {
                guard scanValue(depth: depth) else { return false }
                skipSpace()
                if take(0x2C) {
                    skipSpace()
                    continue
                }
                return take(0x5D)
            }
        }

        mutating func scanLiteral(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard end - position >= count, memcmpEqual(position, word.utf8Start, count) else { return false }
            position += count
            return true
        }

        private func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
            for k in 0..<count where a[k] != b[k] { return false }
            return true
        }

        /// `-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,18})?`; what follows is checked by the caller.
        mutating func scanNumber() -> Bool {
            _ = take(0x2D)
            guard position < end else { return false }
            if position.pointee == 0x30 {
                position += 1
            } else {
                let digits = scanDigits()
                guard digits >= 1 && digits <= 18 else { return false }
            }
            if take(0x2E) {
                let digits = scanDigits()
                guard digits >= 1 && digits <= 18 else { return false }
            }
            // Exponents, and digits after a leading zero, are left to json-c.
            return position == end || !(position.pointee == 0x65 || position.pointee == 0x45 || (0x30...0x39).contains(position.pointee))
        }

        private mutating func scanDigits() -> Int {
            let start = position
            while position < end, position.pointee &- 0x30 < 10 { position += 1 }
            return position - start
        }

        /// A string from its opening quote: the bytes between the quotes, whether it has escapes, and whether it
        /// has bytes ≥ 0x80. Nil on raw control characters, an unknown escape, a `\u` escape without four hex digits
        /// or with an unpaired surrogate, or no closing quote.
        mutating func scanString() -> StringValue? {
            guard take(0x22) else { return nil }
            let start = position
            var escaped = false
            var high = SIMD16<UInt8>()
            var highByte: UInt8 = 0
            let quote = SIMD16<UInt8>(repeating: 0x22), backslash = SIMD16<UInt8>(repeating: 0x5C)
            let space = SIMD16<UInt8>(repeating: 0x20)
            while true {
                // 16 bytes at a time while none is a quote, a backslash or a control character.
                while end - position >= 16 {
                    let v = UnsafeRawPointer(position).loadUnaligned(as: SIMD16<UInt8>.self)
                    if any((v .== quote) .| (v .== backslash) .| (v .< space)) { break }
                    high |= v
                    position += 16
                }
                guard position < end else { return nil }
                let byte = position.pointee
                if byte == 0x22 {
                    let value = StringValue(
                        start: start, end: position, escaped: escaped, highBytes: (highByte | high.max()) >= 0x80)
                    position += 1
                    return value
                }
                if byte == 0x5C {
                    guard end - position >= 2 else { return nil }
                    escaped = true
                    switch position[1] {
                    case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: position += 2
                    case 0x75:
                        guard let unit = hex4(at: position + 2) else { return nil }
                        position += 6
                        if unit >= 0xDC00 && unit < 0xE000 { return nil }
                        if unit >= 0xD800 && unit < 0xDC00 {
                            guard end - position >= 6, position[0] == 0x5C, position[1] == 0x75,
                                let low = hex4(at: position + 2), low >= 0xDC00 && low < 0xE000
                            else { return nil }
                            position += 6
                        }
                    default: return nil
                    }
                    continue
                }
                if byte < 0x20 { return nil }
                highByte |= byte
                position += 1
            }
        }

        private func hex4(at pointer: UnsafePointer<UInt8>) -> UInt16? {
            guard end - pointer >= 4 else { return nil }
            return JSONLineScanner.hex4(UnsafeBufferPointer(start: pointer, count: 4), 0)
        }

        static func equal(_ a: StringValue, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
            let count = a.end - a.start
            guard count == b.count else { return false }
            for k in 0..<count where a.start[k] != b[k] { return false }
            return true
        }

        static func isValidUTF8(_ value: StringValue) -> Bool {
            moekit_utf8_valid(value.start, value.end - value.start) != 0
        }
    }
}
