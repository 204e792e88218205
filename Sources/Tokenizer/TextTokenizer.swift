/// Turns text into token ids and back. Implemented by the byte-level BPE and SentencePiece-BPE tokenizers.
public protocol TextTokenizer: Sendable {
    /// Number of token ids (the model's vocabulary, including special tokens).
    var vocabularySize: Int { get }
    /// Beginning-of-sequence id, if the vocabulary has one.
    var bosID: Int32? { get }
    /// End-of-sequence id, if the vocabulary has one.
    var eosID: Int32? { get }
    /// Encodes `text`. Special-token strings in the text (e.g. `<|im_start|>`) map to their ids when
    /// `parseSpecial` is true. `addBOS` prepends the BOS id when the tokenizer's configuration asks for it.
    func encode(_ text: String, addBOS: Bool, parseSpecial: Bool) -> [Int32]
    /// Encodes text given as well-formed UTF-8 (the caller has validated it): the ids of
    /// `encode(String(decoding: bytes, as: UTF8.self), …)`, without making the `String`.
    func encode(validUTF8 bytes: UnsafeBufferPointer<UInt8>, addBOS: Bool, parseSpecial: Bool) -> [Int32]
    /// Decodes ids back to text (special tokens included verbatim unless `skipSpecial`).
    func decode(_ ids: [Int32], skipSpecial: Bool) -> String
    /// Decodes ids to raw bytes, which may end inside a UTF-8 sequence (for streaming output, where one
    /// character can span several tokens). `decode` is these bytes with invalid sequences replaced by U+FFFD.
    func decodeBytes(_ ids: [Int32], skipSpecial: Bool) -> [UInt8]
}

extension TextTokenizer {
    /// Default for conformers that encode `String`s.
    public func encode(validUTF8 bytes: UnsafeBufferPointer<UInt8>, addBOS: Bool, parseSpecial: Bool) -> [Int32] {
        encode(String(decoding: bytes, as: UTF8.self), addBOS: addBOS, parseSpecial: parseSpecial)
    }

    /// Default for conformers that only decode to `String`.
    public func decodeBytes(_ ids: [Int32], skipSpecial: Bool) -> [UInt8] {
        Array(decode(ids, skipSpecial: skipSpecial).utf8)
    }
}
