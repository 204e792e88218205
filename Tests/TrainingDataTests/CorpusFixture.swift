import Foundation
import TestSupport

/// Synthetic corpora for preparation tests: deterministic documents mixing ASCII words (with "the" so merges
/// apply), accented and CJK text, newlines, quotes and backslashes (JSON escapes), and a literal special-token
/// string that must stay text.
struct CorpusFixture {
    struct Domain {
        var name: String
        var path: String
        var texts: [String]
    }

    static let words = ["the", "then", "other", "cat", "é", "日本語", "naïve", "\"quoted\"", "back\\slash", "tab\there",
        "<|endoftext|>", "42", "3.14", "emoji 🙂", "line\nbreak"]

    static func texts(count: Int, seed: UInt64, plain: Bool = false) -> [String] {
        var random = SeededGenerator(seed: seed)
        return (0..<count).map { i in
            let length = 3 + Int(random.next() % 40)
            var words: [String] = []
            for _ in 0..<length {
                var word = words.isEmpty ? "doc\(i)" : Self.words[Int(random.next() % UInt64(Self.words.count))]
                // Plain-text documents end at blank lines, so they keep single newlines only.
                if plain { word = word.replacingOccurrences(of: "\n", with: " ") }
                words.append(word)
            }
            return words.joined(separator: random.next() % 5 == 0 ? "\n" : " ")
        }
    }

    /// JSON Lines text of `texts` (plus an unused field).
    static func jsonl(_ texts: [String], field: String = "text", extra: [String: String] = [:]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try texts.map { text in
            var object = extra
            object[field] = text
            object["meta"] = "x"
            return String(decoding: try encoder.encode(object), as: UTF8.self)
        }.joined(separator: "\n") + "\n"
    }

    /// Three domains: `book` as .jsonl.gz (40 documents), `tiny` as .jsonl (5), `notes` as .txt (30).
    static func make(in directory: TemporaryDirectory) throws -> [Domain] {
        let book = texts(count: 40, seed: 1), tiny = texts(count: 5, seed: 2), notes = texts(count: 30, seed: 3, plain: true)
        try jsonl(book).write(toFile: directory.file("book.jsonl"), atomically: true, encoding: .utf8)
        let gzip = try TestModels.run("/usr/bin/gzip", ["-n", directory.file("book.jsonl")])
        precondition(gzip.status == 0, gzip.output)
        try jsonl(tiny).write(toFile: directory.file("tiny.jsonl"), atomically: true, encoding: .utf8)
        try (notes.joined(separator: "\n\n\n") + "\n").write(toFile: directory.file("notes.txt"), atomically: true, encoding: .utf8)
        return [
            Domain(name: "book", path: directory.file("book.jsonl.gz"), texts: book),
            Domain(name: "tiny", path: directory.file("tiny.jsonl"), texts: tiny),
            Domain(name: "notes", path: directory.file("notes.txt"), texts: notes),
        ]
    }
}
