/// GPT-2's reversible byte ↔ printable-character mapping used by byte-level BPE vocabularies.
///
/// Bytes `!`…`~`, `¡`…`¬` and `®`…`ÿ` map to themselves; the other 68 bytes map, in byte order, to U+0100,
/// U+0101, … (so the space byte 0x20 becomes `Ġ` U+0120). Port of `bytes_to_unicode` from openai/gpt-2
/// `encoder.py` (also llama.cpp `unicode_byte_to_utf8_map`).
public enum ByteLevelAlphabet {
    /// The code point each byte maps to (256 entries).
    public static let scalarForByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var isPrintable = [Bool](repeating: false, count: 256)
        for b in 0x21...0x7E { isPrintable[b] = true }
        for b in 0xA1...0xAC { isPrintable[b] = true }
        for b in 0xAE...0xFF { isPrintable[b] = true }
        var extra: UInt32 = 0
        for b in 0..<256 {
            if isPrintable[b] {
                table[b] = UInt32(b)
            } else {
                table[b] = 256 &+ extra
                extra &+= 1
            }
        }
        return table
    }()

    /// The byte for a code point of the alphabet, or nil when the code point is not one of the 256.
    @inlinable
    public static func byte(for scalar: UInt32) -> UInt8? {
        if scalar < 256 {
            let b = Int(scalar)
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            return printable ? UInt8(b) : nil
        }
        guard scalar < 256 + 68 else { return nil }
        return byteForExtra[Int(scalar - 256)]
    }

    /// Bytes that map above U+00FF, in order (68 entries).
    @usableFromInline
    static let byteForExtra: [UInt8] = {
        var result: [UInt8] = []
        for b in 0..<256 where scalarForByte[b] >= 256 { result.append(UInt8(b)) }
        return result
    }()

    /// UTF-8 encoding of each byte's alphabet character (256 entries, 1 or 2 bytes each).
    static let utf8ForByte: [[UInt8]] = scalarForByte.map { Array(String(Unicode.Scalar($0)!).utf8) }

    /// Encodes raw bytes as the alphabet's characters, in UTF-8 (what byte-level vocabularies store).
    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        for b in bytes { out.append(contentsOf: utf8ForByte[Int(b)]) }
        return out
    }

    /// Decodes a vocabulary string back to raw bytes. Characters outside the alphabet are kept as their UTF-8
    /// bytes (vocabularies occasionally hold such tokens; llama.cpp would print a substitute instead).
    public static func decode(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        decode(text, appendingTo: &out)
        return out
    }

    /// Decodes a vocabulary string back to raw bytes appended to `out` (see `decode(_:)`).
    /// Works on the UTF-8 bytes: ASCII is its own byte either way (in the alphabet or kept), only two-byte
    /// sequences can be alphabet characters (the highest is U+0143), and longer ones are kept.
    public static func decode(_ text: String, appendingTo out: inout [UInt8]) {
        var text = text
        text.withUTF8 { bytes in
            var i = 0
            while i < bytes.count {
                let lead = bytes[i]
                let length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
                if length == 2, let b = byte(for: UInt32(lead & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F)) {
                    out.append(b)
                } else {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[i..<i + length]))
                }
                i += length
            }
        }
    }
}
