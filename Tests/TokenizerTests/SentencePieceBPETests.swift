import Conversion
import Testing

@testable import Tokenizer

/// SentencePiece BPE on a synthetic vocabulary; expected ids derived by hand from the scores.
@Suite("SentencePiece BPE")
struct SentencePieceBPETests {
    /// id: text (score, type) — types: 1 normal, 2 unknown, 3 control, 6 byte.
    static let vocabulary: [(String, Float, Int32)] = [
        ("<unk>", 0, 2), ("<s>", 0, 3), ("</s>", 0, 3), ("<0xC3>", 0, 6), ("<0xA9>", 0, 6),  // 0-4
        ("▁", -1, 1), ("h", -2, 1), ("e", -2, 1), ("l", -2, 1), ("o", -2, 1),  // 5-9
        ("he", -3, 1), ("ll", -1.5, 1), ("▁h", -2.5, 1), ("▁he", -4, 1), ("llo", -3.5, 1),  // 10-14
        ("▁hello", -5, 1), ("w", -2, 1), ("▁w", -2, 1), ("a", -2, 1), ("aa", -1, 1),  // 15-19
    ]

    static func data(addSpacePrefix: Bool? = nil) -> TokenizerData {
        var data = TokenizerData(model: "llama", tokens: vocabulary.map(\.0))
        data.scores = vocabulary.map(\.1)
        data.tokenTypes = vocabulary.map(\.2)
        data.bosID = 1
        data.eosID = 2
        data.unknownID = 0
        data.addSpacePrefix = addSpacePrefix
        return data
    }

    @Test("highest-score merges first: ▁hello via ll, ▁h, llo, ▁he")
    func merges() throws {
        let t = try TokenizerFactory.make(Self.data())
        #expect(t is SentencePieceBPETokenizer)
        #expect(t.encode("hello", addBOS: false, parseSpecial: true) == [15])
        #expect(t.encode("hello", addBOS: true, parseSpecial: true) == [1, 15])  // llama.cpp default add_bos
        #expect(t.encode("hell", addBOS: false, parseSpecial: true) == [13, 11])  // ll, ▁h, then ▁he
        #expect(t.encode("", addBOS: false, parseSpecial: true) == [])
    }

    @Test("byte fallback, space escaping, and decode strips the added space prefix")
    func byteFallback() throws {
        let t = try TokenizerFactory.make(Self.data())
        let ids = t.encode("hello wé", addBOS: false, parseSpecial: true)
        #expect(ids == [15, 17, 3, 4])
        #expect(t.decode(ids, skipSpecial: false) == "hello wé")
        #expect(t.encode("q", addBOS: false, parseSpecial: true) == [5, 0])  // no token, no byte token: <unk>
    }

    @Test("equal scores merge leftmost first")
    func ties() throws {
        let t = try SentencePieceBPETokenizer(Self.data(addSpacePrefix: false))
        #expect(t.encode("aaa", addBOS: false, parseSpecial: true) == [19, 18])
        #expect(t.encode("aaaa", addBOS: false, parseSpecial: true) == [19, 19])
    }

    @Test("special tokens and the space prefix after them")
    func specials() throws {
        let t = try SentencePieceBPETokenizer(Self.data())
        #expect(t.encode("<s>hello</s>", addBOS: false, parseSpecial: true) == [1, 15, 2])
        #expect(t.decode([1, 15, 2], skipSpecial: true) == "hello")
        #expect(t.decode([1, 15, 2], skipSpecial: false) == "<s> hello</s>")
        #expect(!t.encode("<s>", addBOS: false, parseSpecial: false).contains(1))
    }

    @Test("malformed data and unsupported models throw typed errors naming the problem")
    func errors() throws {
        var bad = Self.data()
        bad.scores = [0]
        #expect(throws: TokenizerError.self) { try SentencePieceBPETokenizer(bad) }
        for model in ["bert", "t5", "rwkv"] {
            #expect(throws: TokenizerError.unsupportedModel(model)) { try TokenizerFactory.make(TokenizerData(model: model, tokens: ["a"])) }
            #expect(TokenizerError.unsupportedModel(model).description.contains("'\(model)'"))
        }
    }
}
