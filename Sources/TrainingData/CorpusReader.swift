import CJSONC
import CPlatform

#if canImport(Glibc)
import Glibc
#endif

/// How an input file holds documents.
public enum CorpusFormat: String, Sendable, Codable {
    /// JSON Lines: one JSON object per line, the text in a string field (plain or gzip-compressed).
    case jsonl
    /// Plain UTF-8 text (plain or gzip-compressed): documents are separated by one or more blank lines.
    case text

    /// `.txt`, `.text` (optionally `.gz`) are plain text; everything else is read as JSON Lines.
    public static func forPath(_ path: String) -> CorpusFormat {
        let name = path.hasSuffix(".gz") ? String(path.dropLast(3)) : path
        return name.hasSuffix(".txt") || name.hasSuffix(".text") ? .text : .jsonl
    }
}

/// One document read from an input.
public struct CorpusDocument: Sendable {
    public var text: String
    /// The `--domain-field` value, when one was asked for.
    public var domain: String?
    /// 1-based line where the document starts.
    public var line: Int
}

/// Streams the documents of one input file in order, through `moekit_gzip_reader` (which reads plain and gzip files
/// alike, as zlib's `gzread` does, faster: `moekit-bench gzip`) and `JSONLineScanner`, with json-c for the lines the scanner
/// leaves (errors and rare constructs). Memory stays bounded by the longest line (JSONL) or paragraph (text).
public final class CorpusReader {
    public let path: String
    public let format: CorpusFormat
    public let textField: String
    public let domainField: String?
    public let skipBadLines: Bool
    /// Lines skipped as bad (only with `skipBadLines`).
    public private(set) var skippedLines = 0
    /// The first few errors skipped, for warnings.
    public private(set) var skippedErrors: [TrainingDataError] = []
    /// Decompressed bytes consumed so far.
    public private(set) var bytesRead = 0

    private let descriptor: Int32
    private let gzip: OpaquePointer
    private var tokener: UnsafeMutablePointer<json_tokener>
    private let scanner: JSONLineScanner
    /// Whether lines go through `JSONLineScanner` first (json-c decides only what it leaves); off in tests that
    /// compare both paths.
    var usesFastPath = true
    /// The reader's latest output, valid until the next `refill`.
    private var chunk: UnsafePointer<UInt8>?
    private var chunkCount = 0
    private var chunkPosition = 0
    private var endOfFile = false
    /// Holds a line that spans two of the reader's output stretches (grown as needed, bounded by the longest line).
    private var spill = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 1 << 16)
    private var spillCount = 0
    /// The current line (without its newline): inside `chunk` or `spill`, valid until the next `readLine`.
    private var line = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
    private var lineNumber = 0

    /// Opens `path`.
    /// - Throws: `TrainingDataError.cannotRead` when it cannot be opened.
    public init(path: String, format: CorpusFormat, textField: String = "text", domainField: String? = nil,
        skipBadLines: Bool = false) throws(TrainingDataError)
    {
        self.path = path
        self.format = format
        self.textField = textField
        self.domainField = domainField
        self.skipBadLines = skipBadLines
        var status = stat()
        guard stat(path, &status) == 0 else { throw .cannotRead(path: path, reason: String(cString: strerror(errno))) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw .cannotRead(path: path, reason: "not a regular file") }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .cannotRead(path: path, reason: String(cString: strerror(errno))) }
        guard let gzip = moekit_gzip_open(descriptor) else {
            close(descriptor)
            throw .cannotRead(path: path, reason: "out of memory for the gzip reader")
        }
        guard let tokener = json_tokener_new() else {
            moekit_gzip_close(gzip)
            close(descriptor)
            throw .cannotRead(path: path, reason: "json-c allocation failed")
        }
        json_tokener_set_flags(tokener, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8)
        self.descriptor = descriptor
        self.gzip = gzip
        self.tokener = tokener
        scanner = JSONLineScanner(textField: textField, domainField: domainField)
    }

    deinit {
        json_tokener_free(tokener)
        moekit_gzip_close(gzip)
        spill.deallocate()
        close(descriptor)
    }

    /// The next document, or nil at the end of the file.
    /// - Throws: `TrainingDataError` naming the file and line for a bad line (unless skipped) or a read failure.
    public func next() throws(TrainingDataError) -> CorpusDocument? {
        var text: [UInt8] = []
        guard let (domain, line) = try next(appendingTextTo: &text) else { return nil }
        return CorpusDocument(text: String(decoding: text, as: UTF8.self), domain: domain, line: line)
    }

    /// Appends the next document's text (validated UTF-8) to `text` and returns its domain and first line; nil at the
    /// end of the file. The usual JSONL line goes from the decoder's buffer to `text` without becoming a `String`.
    /// - Throws: `TrainingDataError` naming the file and line for a bad line (unless skipped) or a read failure.
    public func next(appendingTextTo text: inout [UInt8]) throws(TrainingDataError) -> (domain: String?, line: Int)? {
        switch format {
        case .jsonl: return try nextJSONDocument(appendingTextTo: &text)
        case .text: return try nextParagraph(appendingTextTo: &text).map { (nil, $0) }
        }
    }

    // MARK: JSON Lines

    private func nextJSONDocument(appendingTextTo text: inout [UInt8]) throws(TrainingDataError) -> (domain: String?, line: Int)? {
        while try readLine() {
            let number = lineNumber
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            if usesFastPath, let (bytes, domain) = scanner.scanBytes(line) {
                text.append(contentsOf: bytes)
                return (domain, number)
            }
            do {
                let parsed = try parseJSONLine(number)
                text.append(contentsOf: parsed.text.utf8)
                return (parsed.domain, number)
            } catch {
                guard skipBadLines else { throw error }
                skippedLines += 1
                if skippedErrors.count < 10 { skippedErrors.append(error) }
            }
        }
        return nil
    }

    private func parseJSONLine(_ number: Int) throws(TrainingDataError) -> CorpusDocument {
        json_tokener_reset(tokener)
        let object: OpaquePointer? = line.withMemoryRebound(to: CChar.self) { json_tokener_parse_ex(tokener, $0.baseAddress, Int32($0.count)) }
        let status = json_tokener_get_error(tokener)
        guard let object, status == json_tokener_success else {
            if let object { json_object_put(object) }
            // json-c 0.16 keeps a pending high-surrogate escape across json_tokener_reset, so a line cut off after
            // `\ud83d` would put a stray U+FFFD into the next line's first `\u` escape; a fresh tokener has no state.
            if let fresh = json_tokener_new() {
                json_tokener_set_flags(fresh, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8)
                json_tokener_free(tokener)
                tokener = fresh
            }
            if status == json_tokener_error_parse_utf8_string { throw .invalidUTF8(path: path, line: number) }
            let reason = status == json_tokener_success ? "incomplete value" : String(cString: json_tokener_error_desc(status))
            throw .invalidJSON(path: path, line: number, reason: reason)
        }
        defer { json_object_put(object) }
        let end = Int(json_tokener_get_parse_end(tokener))
        guard line[end...].allSatisfy({ $0 == 0x20 || $0 == 0x09 }) else {
            throw .invalidJSON(path: path, line: number, reason: "unexpected content after the value")
        }
        guard json_object_get_type(object) == json_type_object else { throw .notAnObject(path: path, line: number) }
        let text = try stringField(textField, of: object, line: number)
        let domain = try domainField.map { field throws(TrainingDataError) in try stringField(field, of: object, line: number) }
        return CorpusDocument(text: text, domain: domain, line: number)
    }

    private func stringField(_ field: String, of object: OpaquePointer, line: Int) throws(TrainingDataError) -> String {
        var value: OpaquePointer?
        guard json_object_object_get_ex(object, field, &value) != 0, let value else {
            throw .missingField(path: path, line: line, field: field)
        }
        guard json_object_get_type(value) == json_type_string, let pointer = json_object_get_string(value) else {
            throw .notAString(path: path, line: line, field: field)
        }
        let length = Int(json_object_get_string_len(value))
        let bytes = UnsafeRawBufferPointer(start: pointer, count: length).bindMemory(to: UInt8.self)
        // json-c has validated the raw line (and turns lone surrogate escapes into U+FFFD); this check keeps the
        // guarantee independent of the json-c version.
        guard let string = String(validating: bytes, as: UTF8.self) else { throw .invalidUTF8(path: path, line: line) }
        return string
    }

    // MARK: Plain text

    /// Appends the next paragraph (its lines joined by `\n`) to `text` and returns its first line; nil at the end.
    private func nextParagraph(appendingTextTo text: inout [UInt8]) throws(TrainingDataError) -> Int? {
        let mark = text.count
        var start = 0
        while try readLine() {
            guard moekit_utf8_valid(line.baseAddress, line.count) != 0 else {
                text.removeSubrange(mark...)
                throw .invalidUTF8(path: path, line: lineNumber)
            }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                if start > 0 { break }
                continue
            }
            if start == 0 {
                start = lineNumber
            } else {
                text.append(0x0A)
            }
            text.append(contentsOf: line)
        }
        return start > 0 ? start : nil
    }

    // MARK: Lines

    /// Reads the next line (without its newline or a trailing CR) into `line`; false at the end of the file. A line
    /// inside one output stretch of the gzip reader is used where it lies; only a line that spans two is copied.
    private func readLine() throws(TrainingDataError) -> Bool {
        spillCount = 0
        var sawAny = false
        while true {
            if chunkPosition == chunkCount {
                if endOfFile { break }
                try refill()
                if chunkCount == 0 { break }
            }
            sawAny = true
            let base = chunk! + chunkPosition
            if let hit = memchr(base, 0x0A, chunkCount - chunkPosition) {
                let length = UnsafeRawPointer(hit) - UnsafeRawPointer(base)
                chunkPosition += length + 1
                lineNumber += 1
                if spillCount == 0 {
                    line = UnsafeBufferPointer(start: base, count: length)
                } else {
                    appendToSpill(base, length)
                    line = UnsafeBufferPointer(rebasing: spill[0..<spillCount])
                }
                if line.last == 0x0D { line = UnsafeBufferPointer(rebasing: line.dropLast()) }
                return true
            }
            appendToSpill(base, chunkCount - chunkPosition)
            chunkPosition = chunkCount
        }
        guard sawAny, spillCount > 0 else { return false }
        lineNumber += 1
        line = UnsafeBufferPointer(rebasing: spill[0..<spillCount])
        if line.last == 0x0D { line = UnsafeBufferPointer(rebasing: line.dropLast()) }
        return true
    }

    private func appendToSpill(_ bytes: UnsafePointer<UInt8>, _ count: Int) {
        if spillCount + count > spill.count {
            let grown = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(spillCount + count, 2 * spill.count))
            grown.baseAddress!.update(from: spill.baseAddress!, count: spillCount)
            spill.deallocate()
            spill = grown
        }
        (spill.baseAddress! + spillCount).update(from: bytes, count: count)
        spillCount += count
    }

    private func refill() throws(TrainingDataError) {
        var data: UnsafePointer<UInt8>?
        let n = moekit_gzip_read(gzip, &data)
        if n < 0 {
            let message = moekit_gzip_error(gzip).map { String(cString: $0) } ?? "read failed"
            throw .cannotRead(path: path, reason: message)
        }
        if n == 0 { endOfFile = true }
        chunk = data
        chunkCount = Int(n)
        chunkPosition = 0
        bytesRead += Int(n)
    }
}
