import Conversion
import Foundation
import TestSupport
import Testing

@testable import Tokenizer

/// SentencePiece BPE against llama.cpp's ids on a synthetic 385-token vocabulary with byte tokens, tied scores,
/// control and user-defined tokens (Fixtures/spm_synthetic.json, made by scripts/make_spm_fixtures.py).
@Suite("SentencePiece BPE matches llama.cpp")
struct SentencePieceReferenceTests {
    struct Fixture: Decodable {
        struct Case: Decodable {
            var text: String
            var with_bos_special: [Int32]
            var plain: [Int32]
        }
        var tokens: [String]
        var scores: [Float]
        var token_types: [Int32]
        var cases: [Case]
    }

    static func load() throws -> (Fixture, any TextTokenizer) {
        let path = TestModels.repositoryRoot + "/Tests/TokenizerTests/Fixtures/spm_synthetic.json"
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        var data = TokenizerData(model: "llama", tokens: fixture.tokens)
        data.scores = fixture.scores
        data.tokenTypes = fixture.token_types
        data.bosID = 1
        data.eosID = 2
        data.unknownID = 0
        data.addBOS = true
        data.addEOS = false
        data.addSpacePrefix = true
        return (fixture, try TokenizerFactory.make(data))
    }

    @Test("ids equal llama.cpp's with BOS + special parsing and without")
    func ids() throws {
        let (fixture, tokenizer) = try Self.load()
        #expect(fixture.cases.count >= 10)
        for item in fixture.cases {
            #expect(tokenizer.encode(item.text, addBOS: true, parseSpecial: true) == item.with_bos_special, "\(item.text.debugDescription)")
            #expect(tokenizer.encode(item.text, addBOS: false, parseSpecial: false) == item.plain, "\(item.text.debugDescription)")
        }
    }

    @Test("plain text round-trips through decode (the added space prefix is removed)")
    func roundTrip() throws {
        let (fixture, tokenizer) = try Self.load()
        for item in fixture.cases where !item.text.contains("<") {
            #expect(tokenizer.decode(item.plain, skipSpecial: true) == item.text, "\(item.text.debugDescription)")
        }
    }
}
