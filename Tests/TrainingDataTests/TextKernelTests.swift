import CPlatform
import CZlib
import Testing

/// The C kernels prepare-data runs on every byte: XXH64 (the validation rule) against the reference implementation's
/// values, UTF-8 validation against Swift's own validator, the PCLMULQDQ CRC-32 against zlib's.
@Suite("text kernels")
struct TextKernelTests {
    @Test("XXH64 matches the reference implementation (Python xxhash 3.x)")
    func xxh64() {
        let cases: [([UInt8], UInt64)] = [
            ([], 0xEF46_DB37_51D8_E999), (Array("a".utf8), 0xD24E_C4F1_A98C_6E5B), (Array("abc".utf8), 0x44BC_2CF5_AD77_0999),
            (Array("hello world".utf8), 0x45AB_6734_B21E_6968), (Array((0..<768).map { UInt8($0 % 256) }), 0x8E03_C838_C596_036F),
            (Array(String(repeating: "Grüße, 世界 — テスト", count: 5).utf8), 0x3B80_C873_1C4A_0CFB),
        ]
        for (bytes, expected) in cases {
            #expect(bytes.withUnsafeBytes { moekit_xxh64($0.baseAddress, $0.count, 0) } == expected, "\(bytes.count) bytes")
        }
    }

    @Test("UTF-8 validation agrees with Swift's on hand-picked edge cases and 200,000 random byte strings")
    func utf8Validation() {
        func ours(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBufferPointer { moekit_utf8_valid($0.baseAddress, $0.count) != 0 } }
        func swift(_ bytes: [UInt8]) -> Bool { String(validating: bytes, as: UTF8.self) != nil }
        let edges: [[UInt8]] = [
            [], [0x7F], [0x80], [0xC0, 0x80], [0xC1, 0xBF], [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0x9F, 0xBF], [0xE0, 0xA0, 0x80],
            [0xED, 0x9F, 0xBF], [0xED, 0xA0, 0x80], [0xEF, 0xBF, 0xBF], [0xF0, 0x8F, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80],
            [0xF4, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xE2, 0x82],
            Array("sixteen ascii by".utf8) + [0xC3], Array("sixteen ascii by".utf8) + [0xC3, 0xA9] + Array("tes and more".utf8),
        ]
        for bytes in edges { #expect(ours(bytes) == swift(bytes), "\(bytes)") }
        // Mostly-ASCII strings with a few multi-byte sequences and random damage, so both verdicts are common.
        var state: UInt64 = 0xC0FFEE
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        let pieces: [[UInt8]] = [Array("é".utf8), Array("日".utf8), Array("🙂".utf8), Array("abcdefghijklmnopq".utf8), [0x20]]
        var valid = 0
        for _ in 0..<200_000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int(next() % 12) { bytes += pieces[Int(next() % UInt64(pieces.count))] }
            if next() % 2 == 0, !bytes.isEmpty { bytes[Int(next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: next()) }
            if next() % 4 == 0, !bytes.isEmpty { bytes.removeLast(Int(next() % UInt64(min(3, bytes.count) + 1))) }
            let verdict = ours(bytes)
            if verdict != swift(bytes) {
                Issue.record("\(bytes): ours \(verdict)")
                return
            }
            if verdict { valid += 1 }
        }
        #expect(valid > 50_000 && valid < 190_000, "valid \(valid) of 200,000")
    }

    @Test("CRC-32 equals zlib's crc32_z for every length, alignment and starting value, also when chained")
    func crc32() {
        var state: UInt64 = 0xC2C
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        let data = (0..<70_000).map { _ in UInt8(truncatingIfNeeded: next()) }
        data.withUnsafeBufferPointer { buffer in
            let base = buffer.baseAddress!
            for length in Array(0..<300) + [1000, 4096, 4099, 65_536, 69_000] {
                let offset = Int(next() % 64), seed = length % 3 == 0 ? 0 : UInt32(truncatingIfNeeded: next())
                let ours = moekit_crc32(seed, base + offset, length)
                let reference = UInt32(crc32_z(uLong(seed), base + offset, length))
                #expect(ours == reference, "length \(length), offset \(offset)")
            }
            // Chained over uneven pieces, as the gzip reader feeds it.
            var chained: UInt32 = 0, position = 0
            while position < 69_000 {
                let piece = min(Int(next() % 3000), 69_000 - position)
                chained = moekit_crc32(chained, base + position, piece)
                position += piece
            }
            #expect(chained == UInt32(crc32_z(0, base, 69_000)))
        }
    }
}
