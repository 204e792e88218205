import Conversion

/// SentencePiece-style BPE (`tokenizer.ggml.model = llama`: LLaMA-1/2, Mistral v0.1, TinyLlama, …).
///
/// Spaces become `▁` (with one prepended when `add_space_prefix`, at the start and after each special token),
/// the text is split into UTF-8 characters, and the adjacent pair whose concatenation is the vocabulary token of
/// highest score is merged until none is left (leftmost on ties). Characters that never form a token fall back to
/// `<0xNN>` byte tokens. Follows llama.cpp's `llm_tokenizer_spm_session` (src/llama-vocab.cpp).
public struct SentencePieceBPETokenizer: TextTokenizer {
    public let vocabularySize: Int
    public let bosID: Int32?
    public let eosID: Int32?
    /// Id emitted for bytes without a byte token, if any.
    public let unknownID: Int32?
    /// Whether a `▁` is prepended to text that starts the input or follows a special token.
    public let addsSpacePrefix: Bool
    /// Whether the configuration asks for BOS / EOS when special tokens are added (llama.cpp default: BOS only).
    public let addsBOS: Bool
    public let addsEOS: Bool

    private let vocabulary: ByteStringTable
    private let scores: [Float]  // [vocabularySize]
    private let byteTokens: [Int32]  // [256], -1 when absent
    private let specials: SpecialTokenMatcher
    private let pieces: TokenPieces

    /// Builds the tokenizer from GGUF-style tokenizer data (`tokens`, `scores`, `tokenTypes`).
    /// - Throws: `TokenizerError.invalidVocabulary` when there are no tokens or `scores` has the wrong length.
    public init(_ data: TokenizerData) throws(TokenizerError) {
        let count = data.tokens.count
        guard count > 0 else { throw .invalidVocabulary(model: data.model, problem: "no tokens") }
        let scores = data.scores ?? [Float](repeating: 0, count: count)
        guard scores.count == count else {
            throw .invalidVocabulary(model: data.model, problem: "\(scores.count) scores for \(count) tokens")
        }
        vocabularySize = count
        self.scores = scores
        func validID(_ id: Int?) -> Int32? { id.flatMap { $0 >= 0 && $0 < count ? Int32($0) : nil } }
        bosID = validID(data.bosID)
        eosID = validID(data.eosID)
        unknownID = validID(data.unknownID)
        addsSpacePrefix = data.addSpacePrefix ?? true
        addsBOS = data.addBOS ?? true
        addsEOS = data.addEOS ?? false
        var vocabulary = ByteStringTable(minimumCapacity: count)
        for (id, text) in data.tokens.enumerated() { vocabulary.insert(Array(text.utf8), value: Int32(id)) }
        self.vocabulary = vocabulary
        let unknown = unknownID ?? -1
        byteTokens = (0..<256).map { b in
            let hex = String(b, radix: 16, uppercase: true)
            let name = "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
            return vocabulary.find(Array(name.utf8)) ?? vocabulary.find([UInt8(b)]) ?? unknown
        }
        specials = SpecialTokenMatcher(tokens: data.tokens, types: data.tokenTypes)
        pieces = TokenPieces(sentencePiece: data)
    }

    // MARK: Encoding

    public func encode(_ text: String, addBOS: Bool, parseSpecial: Bool) -> [Int32] {
        var output: [Int32] = []
        if addBOS && addsBOS, let bosID { output.append(bosID) }
        var text = text
        text.withUTF8 { bytes in
            var previousIsSpecial = true
            for fragment in specials.partition(bytes, parseSpecial: parseSpecial) {
                switch fragment {
                case .token(let id):
                    output.append(id)
                    previousIsSpecial = true
                case .raw(let range):
                    var escaped: [UInt8] = []
                    escaped.reserveCapacity(range.count + 3)
                    if addsSpacePrefix && previousIsSpecial { escaped += [0xE2, 0x96, 0x81] }
                    for b in bytes[range] {
                        if b == 0x20 { escaped += [0xE2, 0x96, 0x81] } else { escaped.append(b) }
                    }
                    merge(escaped, into: &output)
                    previousIsSpecial = false
                }
            }
        }
        if addBOS && addsEOS, let eosID { output.append(eosID) }
        return output
    }

    /// Order-preserving map of a score to an unsigned integer, inverted so that the highest score is smallest.
    @inline(__always)
    private static func priority(_ score: Float) -> UInt64 {
        let bits = score.bitPattern
        let ordered = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
        return UInt64(~ordered)
    }

    /// Merges the characters of `text` by score and appends the resulting ids.
    private func merge(_ text: [UInt8], into output: inout [Int32]) {
        // Symbols: UTF-8 characters [start, start + length), linked by prev/next; merged ones get length 0.
        var start: [Int32] = []
        var length: [Int32] = []
        var offset = 0
        while offset < text.count {
            let lead = text[offset]
            let n = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
            let clamped = min(n, text.count - offset)
            start.append(Int32(offset))
            length.append(Int32(clamped))
            offset += clamped
        }
        let n = start.count
        guard n > 0 else { return }
        var previous = (0..<n).map { Int32($0 - 1) }
        var next = (0..<n).map { $0 + 1 < n ? Int32($0 + 1) : -1 }
        var queue = MergeQueue(capacity: 2 * n)
        text.withUnsafeBufferPointer { bytes in
            func consider(_ left: Int32, _ right: Int32) {
                guard left >= 0, right >= 0 else { return }
                let s = Int(start[Int(left)])
                let size = Int(length[Int(left)] + length[Int(right)])
                guard let id = vocabulary.find(UnsafeBufferPointer(rebasing: bytes[s..<(s + size)])) else { return }
                queue.push(.init(key: Self.priority(scores[Int(id)]) << 32 | UInt64(left), right: right, size: Int32(size)))
            }
            for i in 1..<max(n, 1) { consider(Int32(i - 1), Int32(i)) }
            while let item = queue.pop() {
                let left = Int(item.key & 0xFFFF_FFFF)
                let right = Int(item.right)
                guard length[left] > 0, length[right] > 0, length[left] + length[right] == item.size else { continue }
                length[left] += length[right]
                length[right] = 0
                next[left] = next[right]
                if next[right] >= 0 { previous[Int(next[right])] = Int32(left) }
                consider(previous[left], Int32(left))
                consider(Int32(left), next[left])
            }
            var i: Int32 = 0
            while i >= 0 {
                let s = Int(start[Int(i)])
                let e = s + Int(length[Int(i)])
                if let id = vocabulary.find(UnsafeBufferPointer(rebasing: bytes[s..<e])) {
                    output.append(id)
                } else {
                    for b in bytes[s..<e] where byteTokens[Int(b)] >= 0 { output.append(byteTokens[Int(b)]) }
                }
                i = next[Int(i)]
            }
        }
    }

    // MARK: Decoding

    public func decode(_ ids: [Int32], skipSpecial: Bool) -> String {
        String(decoding: decodeBytes(ids, skipSpecial: skipSpecial), as: UTF8.self)
    }

    public func decodeBytes(_ ids: [Int32], skipSpecial: Bool) -> [UInt8] {
        pieces.bytes(of: ids, skipSpecial: skipSpecial, stripLeadingSpace: addsSpacePrefix)
    }
}
