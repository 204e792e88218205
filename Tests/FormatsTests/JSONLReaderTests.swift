import Foundation
import TestSupport
import Testing

@testable import IOCore

@Suite("JSON Lines reader (zlib + json-c)")
struct JSONLReaderTests {
    @Test("reads the shared gzip corpus: 433 Wikipedia documents, 1,248,290 code points (Python's count)",
        .requiresShared("data/corpus/wikipedia.jsonl.gz"))
    func sharedCorpus() throws {
        let path = try TestModels.requireShared("data/corpus/wikipedia.jsonl.gz")
        let texts = try JSONLReader.strings(field: "text", in: path)
        #expect(texts.count == 433)
        #expect(texts.reduce(0) { $0 + $1.unicodeScalars.count } == 1_248_290)
        #expect(texts[0].hasPrefix("In aboriginal mythology (specifically: K"))
    }

    @Test("plain files: CRLF, blank lines, escapes, non-ASCII, a last line without newline")
    func plainFile() throws {
        let tmp = TemporaryDirectory()
        let text = "{\"text\": \"a\\nb\", \"n\": 1}\r\n\n   \n{\"text\":\"é😀\"}\n{\"text\":\"\"}\n{\"text\": \"tail\"}"
        try Data(text.utf8).write(to: URL(fileURLWithPath: tmp.file("c.jsonl")))
        #expect(try JSONLReader.strings(field: "text", in: tmp.file("c.jsonl")) == ["a\nb", "é😀", "", "tail"])
    }

    @Test("bad lines name the file, the line and the field")
    func badLines() throws {
        let tmp = TemporaryDirectory()
        let path = tmp.file("bad.jsonl")
        func write(_ s: String) throws { try Data(s.utf8).write(to: URL(fileURLWithPath: path)) }
        try write("{\"text\":\"ok\"}\n{\"text\": oops}\n")
        #expect(throws: JSONLError.self) { try JSONLReader.strings(field: "text", in: path) }
        do { _ = try JSONLReader.strings(field: "text", in: path) } catch let error as JSONLError {
            guard case .invalidJSON(path, 2, _) = error else { Issue.record("unexpected \(error)"); return }
        }
        try write("{\"text\":\"ok\"}\n\n{\"body\":\"x\"}\n")
        #expect(throws: JSONLError.missingField(path: path, line: 3, field: "text")) { try JSONLReader.strings(field: "text", in: path) }
        try write("{\"text\": 5}\n")
        #expect(throws: JSONLError.notAString(path: path, line: 1, field: "text")) { try JSONLReader.strings(field: "text", in: path) }
        try write("[1, 2]\n")
        #expect(throws: JSONLError.self) { try JSONLReader.strings(field: "text", in: path) }
        try write("{\"text\":\"a\"} {\"text\":\"b\"}\n")
        #expect(throws: JSONLError.self) { try JSONLReader.strings(field: "text", in: path) }
        var invalidUTF8 = Array("{\"text\":\"".utf8)
        invalidUTF8 += [0xC3, 0x28]
        invalidUTF8 += Array("\"}\n".utf8)
        try Data(invalidUTF8).write(to: URL(fileURLWithPath: path))
        #expect(throws: JSONLError.self) { try JSONLReader.strings(field: "text", in: path) }
        #expect(throws: JSONLError.self) { try JSONLReader.strings(field: "text", in: tmp.file("missing.jsonl.gz")) }
    }
}
