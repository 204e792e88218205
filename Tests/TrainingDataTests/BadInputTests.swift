import Foundation
import TestSupport
import Testing

import TrainingData

/// Bad inputs stop with an error naming the file and line (or are counted with --skip-bad-lines), and leave no
/// output behind.
@Suite("prepare-data bad input")
struct BadInputTests {
    static func run(_ content: [UInt8], name: String = "in.jsonl", skip: Bool = false, domainField: String? = nil,
        warnings: inout [String]) throws -> DataIndex
    {
        let tmp = TemporaryDirectory()
        let path = tmp.file(name)
        try Data(content).write(to: URL(fileURLWithPath: path))
        var options = DataPreparationOptions(inputs: [CorpusInput(path: path, domain: domainField == nil ? "d" : nil)], output: tmp.file("out"))
        options.skipBadLines = skip
        options.domainField = domainField
        var collected: [String] = []
        defer {
            warnings = collected
            // Nothing is left next to the output after a failure.
            let left = (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? []
            #expect(left.allSatisfy { !$0.hasPrefix(".") }, "\(left)")
        }
        return try DataPreparation.run(options, tokenizerData: TinyTokenizers.data(), warning: { collected.append($0) })
    }

    static func expectError(_ content: String, name: String = "in.jsonl", domainField: String? = nil,
        _ check: (TrainingDataError) -> Bool)
    {
        var warnings: [String] = []
        #expect {
            _ = try run(Array(content.utf8), name: name, domainField: domainField, warnings: &warnings)
        } throws: { error in
            guard let error = error as? TrainingDataError else { return false }
            return check(error) && error.description.contains("in.") && !error.description.isEmpty
        }
    }

    @Test("empty input and blank-only input are refused")
    func empty() {
        Self.expectError("") { if case .emptyInput(let p) = $0 { return p.hasSuffix("/in.jsonl") } else { return false } }
        Self.expectError("\n  \n\n") { if case .emptyInput = $0 { return true } else { return false } }
        Self.expectError("", name: "in.txt") { if case .emptyInput(let p) = $0 { return p.hasSuffix("/in.txt") } else { return false } }
    }

    @Test("a line that is not an object names file and line")
    func notAnObject() {
        Self.expectError("{\"text\": \"a\"}\n[1, 2]\n") {
            if case .notAnObject(let p, 2) = $0 { return p.hasSuffix("/in.jsonl") } else { return false }
        }
        #expect(TrainingDataError.notAnObject(path: "f.jsonl", line: 2).description == "f.jsonl:2: expected a JSON object on each line")
    }

    @Test("a missing or non-string text field names file, line and field")
    func missingField() {
        Self.expectError("{\"text\": \"a\"}\n\n{\"body\": \"b\"}\n") {
            if case .missingField(_, 3, "text") = $0 { return true } else { return false }
        }
        Self.expectError("{\"text\": 5}\n") { if case .notAString(_, 1, "text") = $0 { return true } else { return false } }
        Self.expectError("{\"text\": \"a\"}\n", domainField: "source") {
            if case .missingField(_, 1, "source") = $0 { return true } else { return false }
        }
    }

    @Test("invalid UTF-8 in JSONL and plain text names file and line")
    func invalidUTF8() throws {
        var warnings: [String] = []
        let jsonl = Array("{\"text\": \"ok\"}\n{\"text\": \"bad ".utf8) + [0xC3, 0x28] + Array("\"}\n".utf8)
        #expect(throws: TrainingDataError.self) { _ = try Self.run(jsonl, warnings: &warnings) }
        do { _ = try Self.run(jsonl, warnings: &warnings) } catch let error as TrainingDataError {
            guard case .invalidUTF8(let path, 2) = error else { Issue.record("\(error)"); return }
            #expect(path.hasSuffix("/in.jsonl"))
        }
        let text = Array("fine\n\nbad ".utf8) + [0xFF] + Array("\n".utf8)
        do { _ = try Self.run(text, name: "in.txt", warnings: &warnings); Issue.record("no error") } catch let error as TrainingDataError {
            guard case .invalidUTF8(let path, 3) = error else { Issue.record("\(error)"); return }
            #expect(path.hasSuffix("/in.txt"))
        }
        // A lone surrogate escape is valid JSON syntax: json-c decodes it to U+FFFD, so the document is kept.
        #expect(try Self.run(Array("{\"text\": \"\\udc00\"}\n".utf8), warnings: &warnings).documents == 1)
    }

    @Test("malformed JSON names file and line")
    func malformedJSON() {
        Self.expectError("{\"text\": \"a\"}\n{\"text\": \n") { if case .invalidJSON(_, 2, _) = $0 { return true } else { return false } }
        Self.expectError("{\"text\": \"a\"} x\n") { if case .invalidJSON(_, 1, _) = $0 { return true } else { return false } }
    }

    @Test("--skip-bad-lines counts bad lines, warns and keeps the good documents")
    func skipBadLines() throws {
        var warnings: [String] = []
        let content = "{\"text\": \"one\"}\n[1]\n{\"x\": 1}\n{\"text\": \"two\"}\n{\"text\": 3}\n{\"text\": \"three\"}\n"
        let index = try Self.run(Array(content.utf8), skip: true, warnings: &warnings)
        #expect(index.inputs[0].documents == 3 && index.inputs[0].skippedLines == 3)
        #expect(index.documents == 3)
        #expect(warnings.count == 1 && warnings[0].contains("skipped 3 bad line(s)") && warnings[0].contains(":2:"))
        // All lines bad: still an empty input.
        #expect(throws: TrainingDataError.self) { _ = try Self.run(Array("[1]\n[2]\n".utf8), skip: true, warnings: &warnings) }
    }

    @Test("a truncated gzip file is a read error naming the file")
    func truncatedGzip() throws {
        let tmp = TemporaryDirectory()
        try String(repeating: "{\"text\": \"hello there\"}\n", count: 2000).write(toFile: tmp.file("in.jsonl"), atomically: true, encoding: .utf8)
        #expect(try TestModels.run("/usr/bin/gzip", ["-n", tmp.file("in.jsonl")]).status == 0)
        let whole = try Data(contentsOf: URL(fileURLWithPath: tmp.file("in.jsonl.gz")))
        var warnings: [String] = []
        #expect {
            _ = try Self.run(Array(whole.prefix(whole.count / 2)), name: "in.jsonl.gz", warnings: &warnings)
        } throws: { error in
            if case .cannotRead(let path, _) = error as? TrainingDataError { return path.hasSuffix("/in.jsonl.gz") }
            return false
        }
    }

    @Test("domain names from files and name=path; bad names are refused")
    func domainNames() throws {
        #expect(try CorpusInput.parse("data/book.jsonl.gz", usesDomainField: false) == CorpusInput(path: "data/book.jsonl.gz", domain: "book"))
        #expect(try CorpusInput.parse("en_cc=/x/part-0.jsonl", usesDomainField: false) == CorpusInput(path: "/x/part-0.jsonl", domain: "en_cc"))
        #expect(try CorpusInput.parse("notes.txt.gz", usesDomainField: false).format == .text)
        #expect(try CorpusInput.parse("x.jsonl", usesDomainField: true).domain == nil)
        #expect(throws: TrainingDataError.invalidDomainName(name: "a b", source: "a b=x.jsonl")) {
            _ = try CorpusInput.parse("a b=x.jsonl", usesDomainField: false)
        }
        #expect(throws: TrainingDataError.self) { _ = try CorpusInput.parse("=x.jsonl", usesDomainField: false) }
        #expect(throws: TrainingDataError.self) { _ = try ValidationSelector(fraction: 1, minimumDocuments: 0) }
    }
}
