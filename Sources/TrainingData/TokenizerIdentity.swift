import Conversion
import IOCore

/// A tokenizer's identity: SHA-256 over its model name, vocabulary and merges, so that a data directory
/// prepared with one tokenizer is not silently trained with another.
///
/// Hashed bytes: `model` UTF-8, 0x00; then each token's UTF-8 followed by 0x00; then 0x01; then each merge's
/// UTF-8 followed by 0x00 (no merges for SentencePiece vocabularies, whose scores then decide: each score as
/// little-endian float32 bits after a 0x02).
public enum TokenizerIdentity {
    /// The lowercase hex SHA-256 identity of `data`.
    public static func of(_ data: TokenizerData) -> String {
        var hasher = SHA256()
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 16)
        func flush(force: Bool = false) {
            if force || buffer.count >= 1 << 16 {
                hasher.update(buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        buffer += Array(data.model.utf8) + [0]
        for token in data.tokens {
            buffer += Array(token.utf8)
            buffer.append(0)
            flush()
        }
        buffer.append(1)
        for merge in data.merges ?? [] {
            buffer += Array(merge.utf8)
            buffer.append(0)
            flush()
        }
        if let scores = data.scores, data.merges?.isEmpty ?? true {
            buffer.append(2)
            for score in scores {
                withUnsafeBytes(of: score.bitPattern.littleEndian) { buffer += $0 }
                flush()
            }
        }
        flush(force: true)
        return SHA256.hex(hasher.finalize())
    }
}
