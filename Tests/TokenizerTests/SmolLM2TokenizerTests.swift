import Conversion
import Foundation
import TestSupport
import Testing

@testable import Tokenizer

/// The real SmolLM2-135M-Instruct GGUF tokenizer against ids from llama.cpp and transformers
/// (Fixtures/smollm2_ids.json, made by scripts/make_tokenizer_fixtures.py).
@Suite("SmolLM2 tokenizer matches llama.cpp", .requiresSmolLM2)
struct SmolLM2TokenizerTests {
    struct Fixture: Decodable {
        struct Case: Decodable {
            var text: String
            var llama_cpp: [Int32]
            var transformers: [Int32]
            var transformers_smollm_pre: [Int32]
            var agree: Bool
        }
        var cases: [Case]
    }

    static func fixture() throws -> Fixture {
        let path = TestModels.repositoryRoot + "/Tests/TokenizerTests/Fixtures/smollm2_ids.json"
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func tokenizer() throws -> any TextTokenizer {
        let path = try TestModels.requireSmolLM2()
        let source = try ModelSource.open(path, recipesDirectory: TestModels.repositoryRoot + "/Converters")
        let data = try #require(source.tokenizer, "SmolLM2 GGUF has no tokenizer")
        return try TokenizerFactory.make(data)
    }

    @Test("every fixture text encodes to llama.cpp's ids and round-trips")
    func fixtureIDs() throws {
        let tokenizer = try Self.tokenizer()
        #expect(tokenizer is ByteLevelBPETokenizer)
        #expect(tokenizer.vocabularySize == 49152)
        let fixture = try Self.fixture()
        #expect(fixture.cases.count >= 40)
        for item in fixture.cases {
            let ids = tokenizer.encode(item.text, addBOS: true, parseSpecial: true)
            #expect(ids == item.llama_cpp, "text: \(item.text.debugDescription)")
            #expect(ids == item.transformers_smollm_pre, "text: \(item.text.debugDescription)")
            if item.agree { #expect(ids == item.transformers) }
            #expect(tokenizer.decode(ids, skipSpecial: false) == item.text)
        }
    }

    @Test("special tokens: parsed with parseSpecial, plain text without")
    func specialTokens() throws {
        let tokenizer = try Self.tokenizer()
        let chat = "<|im_start|>user\nhi<|im_end|>"
        let parsed = tokenizer.encode(chat, addBOS: false, parseSpecial: true)
        #expect(parsed.first == 1 && parsed.last == 2)
        let plain = tokenizer.encode(chat, addBOS: false, parseSpecial: false)
        #expect(!plain.contains(1) && !plain.contains(2))
        #expect(tokenizer.decode(plain, skipSpecial: false) == chat)
        #expect(tokenizer.decode(parsed, skipSpecial: true) == "user\nhi")
        // SmolLM2 does not ask for BOS.
        #expect(tokenizer.encode("hi", addBOS: true, parseSpecial: true) == tokenizer.encode("hi", addBOS: false, parseSpecial: true))
        #expect(tokenizer.encode("", addBOS: true, parseSpecial: true) == [])
    }

    @Test("a long multilingual and code sample round-trips")
    func longRoundTrip() throws {
        let tokenizer = try Self.tokenizer()
        let sample = try Self.fixture().cases.map(\.text).joined(separator: "\n\n")
        let repeated = String(repeating: sample, count: 3)
        let ids = tokenizer.encode(repeated, addBOS: false, parseSpecial: false)
        #expect(tokenizer.decode(ids, skipSpecial: false) == repeated)
        // Cached words give the same ids as the first pass.
        #expect(tokenizer.encode(repeated, addBOS: false, parseSpecial: false) == ids)
    }

    @Test("decoding a token that ends inside a UTF-8 character yields bytes, and never traps")
    func partialCharacters() throws {
        let tokenizer = try Self.tokenizer()
        let ids = tokenizer.encode("😀", addBOS: false, parseSpecial: false)
        #expect(ids.count > 1)
        #expect(tokenizer.decodeBytes(ids, skipSpecial: false) == Array("😀".utf8))
        let partial = tokenizer.decode(Array(ids.dropLast()), skipSpecial: false)
        #expect(partial.unicodeScalars.allSatisfy { $0 == "\u{FFFD}" })
        #expect(tokenizer.decode([-1, 49152, 1_000_000], skipSpecial: false) == "")
    }
}
