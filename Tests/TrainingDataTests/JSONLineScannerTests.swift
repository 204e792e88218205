import Foundation
import TestSupport
import Testing

@testable import TrainingData

/// `JSONLineScanner` (the fast path of `CorpusReader`) returns exactly what json-c returns, or leaves the line to
/// json-c: reading a file with and without the fast path gives the same documents, errors and skipped lines.
@Suite("JSON Lines fast path")
struct JSONLineScannerTests {
    static let seeds: [String] = [
        #"{"text": "plain text", "id": 7}"#,
        #"{"id": -12.5, "text": "esc \" \\ \/ \b \f \n \r \t \u00e9 \u20ac \ud83d\ude00 end", "domain": "book"}"#,
        #"{"meta": {"a": [1, 2.25, true, false, null, "x", {"b": []}], "c": {}}, "text": "héllo wörld 日本 😀", "domain": "c4"}"#,
        "  {\"domain\":\"wiki\" ,\t\"text\" :\"tabs and spaces\"}\t ",
        #"{"text": "", "n": 0, "m": -0, "f": 0.5}"#,
        #"{"text": "a long one: the quick brown fox jumps over the lazy dog, again and again and again, 0123456789"}"#,
    ]

    /// Reads `lines` with and without the fast path; both must agree.
    static func compare(_ lines: [[UInt8]], domainField: String?) throws {
        let tmp = TemporaryDirectory()
        let path = tmp.file("in.jsonl")
        var content: [UInt8] = []
        for line in lines { content += line + [0x0A] }
        try Data(content).write(to: URL(fileURLWithPath: path))
        func read(fast: Bool) throws -> (documents: [String], skipped: Int, errors: [TrainingDataError]) {
            let reader = try CorpusReader(path: path, format: .jsonl, domainField: domainField, skipBadLines: true)
            reader.usesFastPath = fast
            var documents: [String] = []
            while let document = try reader.next() {
                documents.append("\(document.line)|\(document.domain ?? "-")|\(document.text)")
            }
            return (documents, reader.skippedLines, reader.skippedErrors)
        }
        let fast = try read(fast: true), slow = try read(fast: false)
        #expect(fast.skipped == slow.skipped)
        #expect(fast.errors == slow.errors)
        #expect(fast.documents.count == slow.documents.count)
        for (a, b) in zip(fast.documents, slow.documents) where a != b {
            Issue.record("fast path \(a.debugDescription) vs json-c \(b.debugDescription)")
        }
    }

    @Test("the fast path takes ordinary lines and returns json-c's strings")
    func ordinaryLines() throws {
        let scanner = JSONLineScanner(textField: "text", domainField: "domain")
        for seed in Self.seeds where seed.contains("domain") {
            let result = Array(seed.utf8).withUnsafeBufferPointer { scanner.scan($0) }
            #expect(result != nil, "\(seed)")
        }
        let escaped = Array(Self.seeds[1].utf8).withUnsafeBufferPointer { scanner.scan($0) }
        #expect(escaped?.text == "esc \" \\ / \u{8} \u{C} \n \r \t é € 😀 end")
        #expect(escaped?.domain == "book")
        try Self.compare(Self.seeds.map { Array($0.utf8) }, domainField: "domain")
        try Self.compare(Self.seeds.map { Array($0.utf8) }, domainField: nil)
    }

    @Test("lines outside the subset or invalid go to json-c")
    func edgeCases() throws {
        let lines: [String] = [
            #"{"text": "a", "text": "b"}"#, #"{"te\u0078t": "key escape"}"#, #"{"text": "nul \u0000"}"#,
            #"{"text": "lone \udc00"}"#, #"{"text": "lone \ud800 x"}"#, #"{"text": "bad \x"}"#, #"{"text": 5}"#,
            #"{"text": null}"#, #"{"n": 1e5, "text": "exp"}"#, #"{"n": 01, "text": "zero"}"#, #"{"n": 1., "text": "dot"}"#,
            #"{"n": 12345678901234567890, "text": "big"}"#, #"{"n": True, "text": "t"}"#, #"{"a": [1,], "text": "c"}"#,
            #"{"text": "x",}"#, #"["text"]"#, #"{"text": "x"} trailing"#, #"{"text": "x"}{"#, #"{"text": "unterminated"#,
            #"{"text": "x\"#, "{\"text\": \"raw\u{1}control\"}", "{\"text\": \"del\u{7F}\"}", #"{}"#, #"{"body": "b"}"#,
            #"{"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": {"k": {"l": {"m": {"n": {"o": {"p": {"q": 1}}}}}}}}}}}}}}}}, "text": "deep"}"#,
            #"{"text": "ok", "domain": 3}"#, #"{"text": "ok"}"#, "\u{FEFF}{\"text\": \"bom\"}", "{\"text\":\"cr\"}\r",
        ]
        var bytes = lines.map { Array($0.utf8) }
        bytes.append(Array(#"{"text": "bad "#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8))
        bytes.append(Array(#"{"meta": ""#.utf8) + [0xED, 0xA0, 0x80] + Array(#"", "text": "surrogate bytes elsewhere"}"#.utf8))
        bytes.append(Array(#"{"text": ""#.utf8) + [0xC0, 0xAF] + Array(#""}"#.utf8))
        try Self.compare(bytes, domainField: nil)
        try Self.compare(bytes, domainField: "domain")
    }

    @Test("a line cut off after a high surrogate escape does not leak into the next line (json-c 0.16 keeps that state)")
    func surrogateStateDoesNotLeak() throws {
        let tmp = TemporaryDirectory()
        let path = tmp.file("in.jsonl")
        try Data((#"{"text": "x \ud83d"# + "\n" + #"{"text": "a \u00e9"}"# + "\n").utf8).write(to: URL(fileURLWithPath: path))
        for fast in [true, false] {
            let reader = try CorpusReader(path: path, format: .jsonl, skipBadLines: true)
            reader.usesFastPath = fast
            let document = try reader.next()
            #expect(document?.text == "a é" && document?.line == 2)
            #expect(reader.skippedLines == 1)
        }
    }

    @Test("random mutations of valid lines: the fast path never disagrees with json-c")
    func mutations() throws {
        var state: UInt64 = 0x5EED
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let interesting: [UInt8] = Array(#""\{}[],:0123456789-+eE.utnfrlsa /"#.utf8) + [0x09, 0x01, 0x7F, 0x80, 0xC3, 0xA9, 0xED, 0xFF, 0x0D]
        var lines: [[UInt8]] = []
        for i in 0..<20_000 {
            var line = Array(Self.seeds[i % Self.seeds.count].utf8)
            for _ in 0..<(1 + Int(next() % 3)) {
                let at = Int(next() % UInt64(line.count + 1))
                switch next() % 4 {
                case 0 where at < line.count: line.remove(at: at)
                case 1 where at < line.count: line[at] = interesting[Int(next() % UInt64(interesting.count))]
                case 2:
                    let end = min(line.count, at + Int(next() % 8))
                    line.insert(contentsOf: line[at..<end], at: at)
                default: line.insert(interesting[Int(next() % UInt64(interesting.count))], at: at)
                }
            }
            lines.append(line.filter { $0 != 0x0A })
        }
        try Self.compare(lines, domainField: nil)
        try Self.compare(lines, domainField: "domain")
    }
}
