import Conversion

/// The bytes each token decodes to, and whether it is a special token, in one arena.
struct TokenPieces: Sendable {
    enum Kind: UInt8 {
        /// Text (normal, user-defined and byte tokens).
        case text = 0
        /// Control and unknown tokens: printed verbatim unless special tokens are skipped.
        case special = 1
        /// Unused tokens: print nothing.
        case hidden = 2
    }

    private var arena: [UInt8] = []
    private var starts: [Int32] = [0]  // [count + 1]
    private var kinds: [Kind] = []  // [count]

    private mutating func append(_ bytes: [UInt8], _ kind: Kind) {
        arena.append(contentsOf: bytes)
        starts.append(Int32(arena.count))
        kinds.append(kind)
    }

    /// Kind of a GGUF token type (nil types: text).
    private static func kind(_ type: Int32?) -> Kind {
        switch type {
        case TokenizerData.TokenType.control.rawValue?, TokenizerData.TokenType.unknown.rawValue?: return .special
        case TokenizerData.TokenType.unused.rawValue?: return .hidden
        default: return .text
        }
    }

    /// Pieces of a byte-level BPE vocabulary: normal tokens are mapped back through `ByteLevelAlphabet`;
    /// user-defined, control and unknown tokens are their text verbatim (llama.cpp `token_to_piece`).
    init(byteLevel data: TokenizerData) {
        for (id, text) in data.tokens.enumerated() {
            let type = data.tokenTypes?[id]
            let kind = Self.kind(type)
            let isNormal = type == nil || type == TokenizerData.TokenType.normal.rawValue
            if isNormal { ByteLevelAlphabet.decode(text, appendingTo: &arena) } else { arena.append(contentsOf: text.utf8) }
            starts.append(Int32(arena.count))
            kinds.append(kind)
        }
    }

    /// Pieces of a SentencePiece vocabulary: `▁` becomes a space and `<0xNN>` byte tokens their byte.
    init(sentencePiece data: TokenizerData) {
        for (id, text) in data.tokens.enumerated() {
            let type = data.tokenTypes?[id]
            let kind = Self.kind(type)
            if type == TokenizerData.TokenType.byte.rawValue || (type == nil && Self.byteValue(text) != nil) {
                append(Self.byteValue(text).map { [$0] } ?? [], kind)
            } else if type == nil || type == TokenizerData.TokenType.normal.rawValue {
                var bytes: [UInt8] = []
                var utf8 = Array(text.utf8)[...]
                while !utf8.isEmpty {
                    if utf8.starts(with: [0xE2, 0x96, 0x81]) {
                        bytes.append(0x20)
                        utf8 = utf8.dropFirst(3)
                    } else {
                        bytes.append(utf8.removeFirst())
                    }
                }
                append(bytes, kind)
            } else {
                append(Array(text.utf8), kind)
            }
        }
    }

    /// The byte of a `<0xNN>` token.
    static func byteValue(_ text: String) -> UInt8? {
        let utf8 = Array(text.utf8)
        guard utf8.count == 6, utf8[0] == 0x3C, utf8[1] == 0x30, utf8[2] == 0x78, utf8[5] == 0x3E else { return nil }
        return UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16)
    }

    /// Concatenated bytes of `ids`; ids outside the vocabulary are ignored.
    /// - Parameter stripLeadingSpace: drop one leading space of the first emitted text token (SentencePiece's
    ///   `add_space_prefix`, as llama.cpp's detokenizer does).
    func bytes(of ids: [Int32], skipSpecial: Bool, stripLeadingSpace: Bool) -> [UInt8] {
        var out: [UInt8] = []
        var first = true
        for id in ids {
            guard id >= 0, Int(id) < kinds.count else { continue }
            let kind = kinds[Int(id)]
            if kind == .hidden || (kind == .special && skipSpecial) { continue }
            var start = Int(starts[Int(id)])
            let end = Int(starts[Int(id) + 1])
            if first && stripLeadingSpace && kind == .text && start < end && arena[start] == 0x20 { start += 1 }
            first = false
            out.append(contentsOf: arena[start..<end])
        }
        return out
    }
}
