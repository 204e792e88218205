import Conversion
import TestSupport
import Testing

@testable import Tokenizer

/// Byte-level BPE on TinyLlama's 260-token vocabulary (256 byte tokens, merges `Ġ t` → 256 then `h e` → 257,
/// specials `<s>` 258 and `</s>` 259), where every expected id is derived by hand: byte b has id b.
@Suite("Byte-level BPE on a tiny vocabulary")
struct ByteLevelBPETests {
    static func tiny() throws -> ByteLevelBPETokenizer {
        let table = try PreTokenizerTable(convertersDirectory: TestModels.repositoryRoot + "/Converters")
        let data = try TokenizerData(
            tokenizerJSON: TinyLlama().tokenizerJSON(), tokenizerConfig: nil, vocabularySize: 260,
            preTokenizers: table, path: "tiny")
        return try ByteLevelBPETokenizer(data)
    }

    @Test("the GPT-2 alphabet maps bytes to printable characters and back")
    func alphabet() {
        #expect(ByteLevelAlphabet.scalarForByte[0x20] == 0x120)  // Ġ
        #expect(ByteLevelAlphabet.scalarForByte[0x0A] == 0x10A)  // Ċ
        #expect(ByteLevelAlphabet.scalarForByte[0x41] == 0x41)
        #expect(ByteLevelAlphabet.scalarForByte[0xAD] == 0x143)
        #expect(Set(ByteLevelAlphabet.scalarForByte).count == 256)
        for b in 0..<256 { #expect(ByteLevelAlphabet.byte(for: ByteLevelAlphabet.scalarForByte[b]) == UInt8(b)) }
        #expect(ByteLevelAlphabet.decode("Ġhello") == Array(" hello".utf8))
        #expect(TinyLlama.byteToUnicode().map { $0.unicodeScalars.first!.value } == ByteLevelAlphabet.scalarForByte)
    }

    @Test("merges apply in rank order within a word")
    func mergeOrder() throws {
        let t = try Self.tiny()
        #expect(t.preTokenizer == .gpt2)
        #expect(t.encode("the", addBOS: false, parseSpecial: true) == [116, 257])  // t + he
        #expect(t.encode(" the", addBOS: false, parseSpecial: true) == [256, 257])  // Ġt (rank 0) then he
        #expect(t.encode(" th", addBOS: false, parseSpecial: true) == [256, 104])
        #expect(t.encode("he the", addBOS: false, parseSpecial: true) == [257, 256, 257])
        // Words never merge across the pre-tokenizer's boundaries: "t" and "he" are in different words here.
        #expect(t.encode("t.he", addBOS: false, parseSpecial: true) == [116, 46, 257])
    }

    @Test("bytes of non-ASCII text map to their byte tokens", arguments: ["é", "\n", "日本", "😀", "\u{0}"])
    func bytes(text: String) throws {
        let t = try Self.tiny()
        #expect(t.encode(text, addBOS: false, parseSpecial: true) == text.utf8.map { Int32($0) })
        #expect(t.decode(text.utf8.map { Int32($0) }, skipSpecial: false) == text)
    }

    @Test("special tokens split the text before pre-tokenization, only with parseSpecial")
    func specials() throws {
        let t = try Self.tiny()
        #expect(t.encode("<s>the</s>", addBOS: false, parseSpecial: true) == [258, 116, 257, 259])
        #expect(t.encode("a<s><s>b", addBOS: false, parseSpecial: true) == [97, 258, 258, 98])
        #expect(t.encode("<s>", addBOS: false, parseSpecial: false) == "<s>".utf8.map { Int32($0) })
        #expect(t.decode([258, 116, 257, 259], skipSpecial: false) == "<s>the</s>")
        #expect(t.decode([258, 116, 257, 259], skipSpecial: true) == "the")
        // add_bos_token is false in TinyLlama's tokenizer_config-less data.
        #expect(t.encode("the", addBOS: true, parseSpecial: true) == [116, 257])
    }

    @Test("invalid UTF-8 from ids decodes with replacement characters and unknown ids are skipped")
    func invalidUTF8() throws {
        let t = try Self.tiny()
        #expect(t.decode([0xC3], skipSpecial: false) == "\u{FFFD}")
        #expect(t.decode([0xFF, 0x41, 0x80], skipSpecial: false) == "\u{FFFD}A\u{FFFD}")
        #expect(t.decodeBytes([0xE6, 0x97], skipSpecial: false) == [0xE6, 0x97])
        #expect(t.decode([-1, 260, Int32.max, 0x41], skipSpecial: false) == "A")
    }

    @Test("user-defined tokens are matched even without parseSpecial; BOS/EOS follow the configuration")
    func userDefinedAndBOS() throws {
        var data = TokenizerData(model: "gpt2", tokens: ByteLevelAlphabet.scalarForByte.map { String(Unicode.Scalar($0)!) } + ["<tool>", "<s>"])
        data.tokenTypes = [Int32](repeating: 1, count: 256) + [4, 3]
        data.merges = []
        data.pre = "gpt2"
        data.bosID = 257
        data.addBOS = true
        let t = try ByteLevelBPETokenizer(data)
        #expect(t.encode("a<tool>b", addBOS: false, parseSpecial: false) == [97, 256, 98])
        #expect(t.encode("a", addBOS: true, parseSpecial: false) == [257, 97])
        #expect(t.decode([257, 97, 256], skipSpecial: true) == "a<tool>")
    }

    @Test("a merge whose parts are not tokens still tokenizes (llama.cpp's byte fallback)")
    func virtualSymbols() throws {
        var data = TokenizerData(model: "gpt2", tokens: ByteLevelAlphabet.scalarForByte.map { String(Unicode.Scalar($0)!) } + ["abc"])
        data.merges = ["a b", "ab c"]  // "ab" is not a token
        data.pre = "gpt2"
        let t = try ByteLevelBPETokenizer(data)
        #expect(t.encode("abc", addBOS: false, parseSpecial: false) == [256])
        #expect(t.encode("ab", addBOS: false, parseSpecial: false) == [97, 98])
        #expect(throws: TokenizerError.invalidMerge(index: 0, text: "ab")) {
            var bad = data
            bad.merges = ["ab"]
            _ = try ByteLevelBPETokenizer(bad)
        }
    }
}
