import Conversion

/// Byte-level BPE (`tokenizer.ggml.model = gpt2`): GPT-2, SmolLM, LLaMA-3, Qwen2 and similar vocabularies.
///
/// Encoding cuts out special tokens, splits the rest into words with the model's `PreTokenizer`, and merges
/// each word's bytes by merge rank (lowest first, leftmost on ties), caching each distinct word. This follows
/// llama.cpp's `llm_tokenizer_bpe_session` (src/llama-vocab.cpp) so that GGUF models tokenize as llama.cpp
/// tokenizes them; Hugging Face `tokenizers` gives the same ids for the supported pre-tokenizers.
public struct ByteLevelBPETokenizer: TextTokenizer {
    public let vocabularySize: Int
    public let bosID: Int32?
    public let eosID: Int32?
    /// How words are split before merging.
    public let preTokenizer: PreTokenizer
    /// Whether the configuration asks for BOS / EOS when special tokens are added.
    public let addsBOS: Bool
    public let addsEOS: Bool
    /// A word that is itself a token is emitted without merging (LLaMA-3 family, as in llama.cpp).
    public let ignoresMerges: Bool

    /// Symbol id of each byte's alphabet character (a token id, or a virtual id ≥ `vocabularySize`).
    private let byteSymbols: [Int32]  // [256]
    /// (left symbol << 32 | right symbol) → (rank << 32 | merged symbol).
    private let merges: [UInt64: UInt64]
    /// Encoded text of symbols that are not tokens (id − vocabularySize).
    private let virtualTexts: [[UInt8]]
    /// Token id of each single-byte vocabulary string (llama.cpp's fallback for symbols that are not tokens).
    private let singleByteTokens: [Int32]  // [256], -1 when absent
    /// Encoded token text → id (only built when `ignoresMerges`).
    private let encodedVocabulary: ByteStringTable
    private let specials: SpecialTokenMatcher
    private let pieces: LazyTokenPieces
    private var cache = BPEWordCache()

    /// This tokenizer with an empty word cache of its own, sharing the immutable vocabulary and merge tables:
    /// one tokenizer per thread without building the tables again. Encodes exactly as `self` does.
    public func withOwnCache() -> ByteLevelBPETokenizer {
        var copy = self
        copy.cache = BPEWordCache()
        return copy
    }

    /// Builds the tokenizer from GGUF-style tokenizer data.
    /// - Throws: `TokenizerError` for an unknown pre-tokenizer, a malformed merge, or an empty vocabulary.
    public init(_ data: TokenizerData) throws(TokenizerError) {
        guard !data.tokens.isEmpty else { throw .invalidVocabulary(model: data.model, problem: "no tokens") }
        let count = data.tokens.count
        vocabularySize = count
        preTokenizer = try PreTokenizer(name: data.pre)
        func validID(_ id: Int?) -> Int32? { id.flatMap { $0 >= 0 && $0 < count ? Int32($0) : nil } }
        bosID = validID(data.bosID)
        eosID = validID(data.eosID)
        addsBOS = data.addBOS ?? false
        addsEOS = data.addEOS ?? false
        if case .llama3 = preTokenizer { ignoresMerges = true } else { ignoresMerges = false }

        // Texts are read through their UTF-8 storage (no array per token or merge): building the tables is
        // part of every command's start-up.
        var vocabulary = ByteStringTable(minimumCapacity: count)
        for (id, text) in data.tokens.enumerated() {
            var text = text
            _ = text.withUTF8 { vocabulary.insert($0, value: Int32(id)) }
        }
        var virtualIDs: [[UInt8]: Int32] = [:]
        var virtualTexts: [[UInt8]] = []
        func symbol(_ text: UnsafeBufferPointer<UInt8>) -> Int32 {
            if let id = vocabulary.find(text) { return id }
            let key = Array(text)
            if let id = virtualIDs[key] { return id }
            let id = Int32(count + virtualTexts.count)
            virtualIDs[key] = id
            virtualTexts.append(key)
            return id
        }
        byteSymbols = ByteLevelAlphabet.utf8ForByte.map { $0.withUnsafeBufferPointer(symbol) }
        var merges: [UInt64: UInt64] = [:]
        merges.reserveCapacity(data.merges?.count ?? 0)
        var joined: [UInt8] = []  // left + right of one merge
        for (rank, line) in (data.merges ?? []).enumerated() {
            var line = line
            let valid = line.withUTF8 { bytes -> Bool in
                // "left right": the first space after the first byte separates the two symbols.
                guard bytes.count >= 3, let split = bytes[1...].firstIndex(of: 0x20) else { return false }
                let left = UnsafeBufferPointer(rebasing: bytes[..<split])
                let right = UnsafeBufferPointer(rebasing: bytes[(split + 1)...])
                let key = UInt64(UInt32(bitPattern: symbol(left))) << 32 | UInt64(UInt32(bitPattern: symbol(right)))
                if merges[key] == nil {
                    joined.removeAll(keepingCapacity: true)
                    joined.append(contentsOf: left)
                    joined.append(contentsOf: right)
                    let merged = joined.withUnsafeBufferPointer(symbol)
                    merges[key] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged))
                }
                return true
            }
            guard valid else { throw .invalidMerge(index: rank, text: line) }
        }
        self.merges = merges
        self.virtualTexts = virtualTexts
        singleByteTokens = (0..<256).map { vocabulary.find([UInt8($0)]) ?? -1 }
        encodedVocabulary = ignoresMerges ? vocabulary : ByteStringTable()
        specials = SpecialTokenMatcher(tokens: data.tokens, types: data.tokenTypes)
        pieces = LazyTokenPieces(byteLevel: data)
    }

    // MARK: Encoding

    public func encode(_ text: String, addBOS: Bool, parseSpecial: Bool) -> [Int32] {
        var text = text
        return text.withUTF8 { encode(validUTF8: $0, addBOS: addBOS, parseSpecial: parseSpecial) }
    }

    public func encode(validUTF8 bytes: UnsafeBufferPointer<UInt8>, addBOS: Bool, parseSpecial: Bool) -> [Int32] {
        var output: [Int32] = []
        output.reserveCapacity(bytes.count / 3 + 2)
        if addBOS && addsBOS, let bosID { output.append(bosID) }
        for fragment in specials.partition(bytes, parseSpecial: parseSpecial) {
            switch fragment {
            case .token(let id): output.append(id)
            case .raw(let range): encodeRaw(bytes, range, into: &output)
            }
        }
        if addBOS && addsEOS, let eosID { output.append(eosID) }
        return output
    }

    /// Pre-tokenizes `bytes[range]` (valid UTF-8) and appends the BPE ids of each word.
    private func encodeRaw(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into output: inout [Int32]) {
        let capacity = range.count
        var cps = [UInt32](repeating: 0, count: capacity)
        var flags = [UInt8](repeating: 0, count: capacity)
        var offsets = [Int32](repeating: 0, count: capacity + 1)
        var n = 0
        CodepointFlags.basicPlane.withUnsafeBufferPointer { table in
            cps.withUnsafeMutableBufferPointer { cp in
                flags.withUnsafeMutableBufferPointer { fl in
                    offsets.withUnsafeMutableBufferPointer { off in
                        var i = range.lowerBound
                        let end = range.upperBound
                        while i < end {
                            let b0 = UInt32(bytes[i])
                            var scalar: UInt32
                            var length: Int
                            if b0 < 0x80 {
                                scalar = b0
                                length = 1
                            } else if b0 < 0xE0 {
                                scalar = (b0 & 0x1F) << 6 | (UInt32(bytes[i &+ 1]) & 0x3F)
                                length = 2
                            } else if b0 < 0xF0 {
                                scalar = (b0 & 0x0F) << 12 | (UInt32(bytes[i &+ 1]) & 0x3F) << 6
                                    | (UInt32(bytes[i &+ 2]) & 0x3F)
                                length = 3
                            } else {
                                scalar = (b0 & 0x07) << 18 | (UInt32(bytes[i &+ 1]) & 0x3F) << 12
                                    | (UInt32(bytes[i &+ 2]) & 0x3F) << 6 | (UInt32(bytes[i &+ 3]) & 0x3F)
                                length = 4
                            }
                            cp[n] = scalar
                            fl[n] = CodepointFlags.of(scalar, table: table)
                            off[n] = Int32(truncatingIfNeeded: i)
                            n &+= 1
                            i &+= length
                        }
                        off[n] = Int32(truncatingIfNeeded: end)
                    }
                }
            }
        }
        var ends: [Int32] = []
        ends.reserveCapacity(n / 3 + 1)
        cps.withUnsafeBufferPointer { cp in
            flags.withUnsafeBufferPointer { fl in
                preTokenizer.split(UnsafeBufferPointer(rebasing: cp[0..<n]), UnsafeBufferPointer(rebasing: fl[0..<n]), start: 0, end: n, into: &ends)
            }
        }
        var start = 0
        for end in ends {
            let word = UnsafeBufferPointer(
                rebasing: bytes[Int(offsets[start])..<Int(offsets[Int(end)])])
            start = Int(end)
            if word.count == 1, byteSymbols[Int(word[0])] < vocabularySize {
                output.append(byteSymbols[Int(word[0])])
                continue
            }
            if cache.append(word, to: &output) { continue }
            let first = output.count
            mergeWord(word, into: &output)
            cache.insert(word, ids: output[first...])
        }
    }

    /// BPE over one word's bytes: repeatedly merges the adjacent pair of lowest rank (leftmost on ties).
    private func mergeWord(_ word: UnsafeBufferPointer<UInt8>, into output: inout [Int32]) {
        if ignoresMerges, let id = encodedVocabulary.find(ByteLevelAlphabet.encode(word)) {
            output.append(id)
            return
        }
        let n = word.count
        var symbols = word.map { byteSymbols[Int($0)] }  // [n]
        var next = (0..<n).map { Int32($0 + 1) }  // [n], n = none
        var previous = (0..<n).map { Int32($0 - 1) }  // [n], -1 = none
        var queue = MergeQueue(capacity: 2 * n)
        func pairKey(_ a: Int32, _ b: Int32) -> UInt64 {
            UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
        }
        func consider(_ left: Int32) {
            guard left >= 0 else { return }
            let right = next[Int(left)]
            guard Int(right) < n, let merge = merges[pairKey(symbols[Int(left)], symbols[Int(right)])] else { return }
            queue.push(.init(key: (merge >> 32) << 32 | UInt64(left), right: right, size: 0))
        }
        for i in 0..<(n - 1) { consider(Int32(i)) }
        var alive = [Bool](repeating: true, count: n)
        while let item = queue.pop() {
            let left = Int(item.key & 0xFFFF_FFFF)
            let right = Int(item.right)
            guard alive[left], alive[right], Int(next[left]) == right,
                let merge = merges[pairKey(symbols[left], symbols[right])], merge >> 32 == item.key >> 32
            else { continue }
            symbols[left] = Int32(truncatingIfNeeded: merge & 0xFFFF_FFFF)
            alive[right] = false
            next[left] = next[right]
            if Int(next[right]) < n { previous[Int(next[right])] = Int32(left) }
            if previous[left] >= 0 { consider(previous[left]) }
            consider(Int32(left))
        }
        var i = 0
        while i < n {
            let s = symbols[i]
            if Int(s) < vocabularySize {
                output.append(s)
            } else {
                for b in virtualTexts[Int(s) - vocabularySize] where singleByteTokens[Int(b)] >= 0 {
                    output.append(singleByteTokens[Int(b)])
                }
            }
            i = Int(next[i])
        }
    }

    // MARK: Decoding

    public func decode(_ ids: [Int32], skipSpecial: Bool) -> String {
        String(decoding: decodeBytes(ids, skipSpecial: skipSpecial), as: UTF8.self)
    }

    public func decodeBytes(_ ids: [Int32], skipSpecial: Bool) -> [UInt8] {
        pieces.bytes(of: ids, skipSpecial: skipSpecial, stripLeadingSpace: false)
    }
}
