import TestSupport
import Testing

@testable import Tokenizer

/// The tables a tokenizer is built from, checked against independent implementations: `ByteStringTable`
/// against Swift's `Dictionary` over byte arrays, and the byte-wise `ByteLevelAlphabet.decode` against the
/// definition (one alphabet character → its byte, any other scalar → its UTF-8 bytes).
@Suite("Tokenizer tables")
struct TokenizerTableTests {
    @Test("ByteStringTable agrees with a Dictionary through growth, replacement and clearing")
    func byteStringTable() {
        var random = SeededGenerator(seed: 20261206)
        var table = ByteStringTable()
        var reference: [[UInt8]: Int32] = [:]
        // Short keys over a 3-letter alphabet collide often, long ones rarely; the empty key is a key too.
        func randomKey() -> [UInt8] {
            let length = Int(random.next() % 7)
            return (0..<length).map { _ in UInt8(0x61 + random.next() % 3) }
        }
        for round in 0..<2 {
            for step in 0..<20_000 {
                let key = randomKey()
                let value = Int32(step)
                let replace = random.next() % 2 == 0
                let index = table.insert(key, value: value, replace: replace)
                #expect(index >= 0 && index < table.count)
                if reference[key] == nil || replace { reference[key] = value }
                if step % 97 == 0 {
                    let probe = randomKey()
                    #expect(table.find(probe) == reference[probe])
                }
            }
            #expect(table.count == reference.count)
            for (key, value) in reference { #expect(table.find(key) == value) }
            #expect(table.find([0x61, 0x62, 0x63, 0x61, 0x62, 0x63, 0x61, 0x62]) == nil)  // longer than any key
            if round == 0 {
                table.removeAll()
                reference.removeAll()
                #expect(table.count == 0)
                #expect(table.find([]) == nil)
            }
        }
        // Growth from the smallest capacity keeps every key (4,096 distinct 2-byte keys).
        var grown = ByteStringTable(minimumCapacity: 1)
        for i in 0..<4096 { grown.insert([UInt8(i & 0xFF), UInt8(i >> 8)], value: Int32(i)) }
        #expect(grown.count == 4096)
        #expect((0..<4096).allSatisfy { grown.find([UInt8($0 & 0xFF), UInt8($0 >> 8)]) == Int32($0) })
    }

    @Test("byte-level decoding matches the scalar-by-scalar definition")
    func alphabetDecoding() {
        func reference(_ text: String) -> [UInt8] {
            var out: [UInt8] = []
            for scalar in text.unicodeScalars {
                if let b = ByteLevelAlphabet.byte(for: scalar.value) { out.append(b) } else { out += Array(String(scalar).utf8) }
            }
            return out
        }
        // Every byte round-trips through its alphabet character.
        for b in 0..<256 {
            let character = String(decoding: ByteLevelAlphabet.encode([UInt8(b)]), as: UTF8.self)
            #expect(ByteLevelAlphabet.decode(character) == [UInt8(b)])
        }
        // Mixed strings: ASCII (space and controls are not alphabet characters), the alphabet's two ranges,
        // two-byte scalars outside it (U+0080…U+00A0, U+00AD, U+0144…U+07FF), three- and four-byte scalars.
        let pools: [ClosedRange<UInt32>] = [0x00...0x7F, 0x80...0xFF, 0x100...0x143, 0x144...0x7FF, 0x800...0xD7FF, 0x10000...0x10FFFF]
        var random = SeededGenerator(seed: 1227)
        for _ in 0..<5_000 {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<Int(random.next() % 12) {
                let pool = pools[Int(random.next() % UInt64(pools.count))]
                scalars.append(Unicode.Scalar(pool.lowerBound + UInt32(random.next() % UInt64(pool.count)))!)
            }
            let text = String(scalars)
            #expect(ByteLevelAlphabet.decode(text) == reference(text), "\(Array(text.unicodeScalars.map(\.value)))")
        }
    }
}
