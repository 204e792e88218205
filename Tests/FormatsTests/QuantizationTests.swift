import Foundation
import Testing
import TensorCore
@testable import Formats
@testable import IOCore

// Tests for the ggml block codecs (GGMLCodec, LegacyBlocks.swift, KQuantBlocks.swift).
//
// 1. Hand-built blocks: each test writes block bytes by hand and derives the expected floats from the layout in
//    ggml `ggml/src/ggml-common.h` (block structs) and `dequantize_row_*` in `ggml/src/ggml-quants.c`, written
//    out independently of the decoder. The chosen values keep every product
//    exact in Float, so these tests check the layout (bit positions, nibble order, signs), not rounding.
// 2. Cross-implementation vectors (Fixtures/quant_vectors.json, made by scripts/make_quant_vectors.py with gguf-py):
//    random blocks whose decoded float32 bit patterns must match exactly, which also pins ggml's operation order.
// 3. Round-trip error bounds for the encoders, and errors for types moekit cannot decode.

// MARK: - Helpers

/// f16 bit patterns used below.
private enum F16 {
    static let one: UInt16 = 0x3C00  // 1.0
    static let half: UInt16 = 0x3800  // 0.5
    static let quarter: UInt16 = 0x3400  // 0.25
    static let minusHalf: UInt16 = 0xB800  // -0.5
    static let minusOne: UInt16 = 0xBC00  // -1.0
}

/// Little-endian bytes of an f16 bit pattern.
private func le(_ h: UInt16) -> [UInt8] { [UInt8(h & 0xFF), UInt8(h >> 8)] }

/// Decodes `bytes` (whole blocks of `type`) with `GGMLCodec.dequantize`.
private func decode(_ type: GGMLType, _ bytes: [UInt8]) -> [Float] {
    precondition(bytes.count % type.blockBytes == 0)
    let count = bytes.count / type.blockBytes * type.blockSize
    var out = [Float](repeating: .nan, count: count)
    bytes.withUnsafeBytes { src in
        out.withUnsafeMutableBufferPointer { dst in
            GGMLCodec.dequantize(type, from: src.baseAddress!, into: dst.baseAddress!, count: count)
        }
    }
    return out
}

/// Encodes `values` (a multiple of the block size) with `GGMLCodec.quantize`.
private func encode(_ type: GGMLType, _ values: [Float]) -> [UInt8] {
    let byteCount = type.byteCount(elements: values.count)!
    var out = [UInt8](repeating: 0xAA, count: byteCount)
    values.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBytes { dst in
            GGMLCodec.quantize(type, from: src.baseAddress!, into: dst.baseAddress!, count: values.count)
        }
    }
    return out
}

private func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(hex.utf8.count / 2)
    var high: UInt8?
    for c in hex.utf8 {
        let v: UInt8 = c <= 57 ? c - 48 : (c | 0x20) - 87
        if let h = high {
            out.append(h << 4 | v)
            high = nil
        } else {
            high = v
        }
    }
    return out
}

/// Deterministic pseudo-random floats (SplitMix64), so failures reproduce.
private struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    mutating func unit() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
}

/// Bit `b` of a little-endian byte array.
private func bit(_ bytes: [UInt8], _ b: Int) -> Int { Int(bytes[b / 8] >> UInt8(b % 8)) & 1 }

// MARK: - Hand-built blocks

@Suite("ggml block codecs")
struct QuantizationTests {
    @Test("Q4_0: d·(nibble − 8), low nibbles first, negative values")
    func q4_0() {
        // qs[j] = low nibble j, high nibble 15 − j
        let qs = (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }
        let out = decode(.q4_0, le(F16.half) + qs)
        var expected = [Float](repeating: 0, count: 32)
        for j in 0..<16 {
            expected[j] = 0.5 * Float(j - 8)  // value j: low nibble of qs[j]
            expected[j + 16] = 0.5 * Float((15 - j) - 8)  // value j+16: high nibble of qs[j]
        }
        #expect(out == expected)
        #expect(out[0] == -4 && out[15] == 3.5 && out[16] == 3.5 && out[31] == -4)
        // a negative scale flips every sign
        #expect(decode(.q4_0, le(F16.minusHalf) + qs) == expected.map { -$0 })
    }

    @Test("Q4_1: d·nibble + m")
    func q4_1() {
        let qs = (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }
        let out = decode(.q4_1, le(F16.half) + le(F16.minusOne) + qs)
        var expected = [Float](repeating: 0, count: 32)
        for j in 0..<16 {
            expected[j] = 0.5 * Float(j) + -1
            expected[j + 16] = 0.5 * Float(15 - j) + -1
        }
        #expect(out == expected)
        #expect(out[0] == -1 && out[15] == 6.5)
    }

    @Test("Q5_0: fifth bit j from qh (LE u32), minus 16")
    func q5_0() {
        let qh: [UInt8] = [0x0F, 0x0F, 0xA5, 0xA5]  // u32 0xA5A50F0F: bits 0–3, 8–11, 16, 18, 21, 23, …
        let qs = (0..<16).map { UInt8($0) | UInt8(($0 * 3) & 0xF) << 4 }
        let out = decode(.q5_0, le(F16.quarter) + qh + qs)
        var expected = [Float](repeating: 0, count: 32)
        for j in 0..<16 {
            expected[j] = 0.25 * Float((j | bit(qh, j) << 4) - 16)
            expected[j + 16] = 0.25 * Float((((j * 3) & 0xF) | bit(qh, j + 16) << 4) - 16)
        }
        #expect(out == expected)
        #expect(out[0] == Float(0.25) * Float(16 - 16))  // low nibble 0, fifth bit set (bit 0 of 0x0F)
        #expect(out[4] == Float(0.25) * Float(4 - 16))  // fifth bit clear (bit 4 of 0x0F)
        #expect(out[16] == Float(0.25) * Float(16 - 16))  // qs[0] high nibble 0, bit 16 (bit 0 of 0xA5) set
        #expect(out[17] == Float(0.25) * Float(3 - 16))  // qs[1] high nibble 3, bit 17 clear
    }

    @Test("Q5_1: 5-bit value · d + m")
    func q5_1() {
        let qh: [UInt8] = [0x01, 0x00, 0x00, 0x80]  // bits 0 and 31
        let qs = (0..<16).map { UInt8(15 - $0) | UInt8($0) << 4 }
        let out = decode(.q5_1, le(F16.half) + le(F16.quarter) + qh + qs)
        var expected = [Float](repeating: 0, count: 32)
        for j in 0..<16 {
            expected[j] = 0.5 * Float((15 - j) | bit(qh, j) << 4) + 0.25
            expected[j + 16] = 0.5 * Float(j | bit(qh, j + 16) << 4) + 0.25
        }
        #expect(out == expected)
        let top: Float = 0.5 * 31 + 0.25, fourteen: Float = 0.5 * 14 + 0.25
        #expect(out[0] == top && out[31] == top && out[1] == fourteen)
    }

    @Test("Q8_0: d·int8, full signed range")
    func q8_0() {
        let q: [Int8] = (0..<32).map { Int8($0 * 8 - 128) }  // −128, −120, …, 120
        let qs = q.map { UInt8(bitPattern: $0) }
        #expect(decode(.q8_0, le(F16.minusHalf) + qs) == q.map { -0.5 * Float($0) })
        #expect(decode(.q8_0, le(F16.minusHalf) + qs)[0] == 64)
    }

    @Test("Q2_K: 4-bit scale/min per 16 values, 2-bit fields at shifts 0/2/4/6")
    func q2_K() {
        // scale of sub-block k = k, min = 15 − k
        let scales = (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }
        let qs = (0..<64).map { UInt8(($0 * 7 + 3) & 0xFF) }
        let block = scales + qs + le(F16.half) + le(F16.quarter)
        #expect(block.count == 84)
        let out = decode(.q2_K, block)
        for i in 0..<256 {
            let k = i / 16  // sub-block of 16 values
            let n = i / 128, group = (i % 128) / 32, l = i % 32
            let q = Int(qs[32 * n + l] >> UInt8(2 * group)) & 3
            let expected = 0.5 * Float(k) * Float(q) - 0.25 * Float(15 - k)
            #expect(out[i] == expected, "value \(i)")
        }
        // spot checks written out: value 0 → qs[0] = 3, field 0 = 3, scale 0 → 0·… − 0.25·15
        #expect(out[0] == -3.75)
        // value 200: sub-block 12 (scale 12, min 3), n = 1, group 2, l = 8 → qs[40] = 283 & 255 = 27 = 0b00_01_10_11
        // → field 2 (bits 4–5) = 1
        let expected200: Float = 0.5 * 12 * 1 - 0.25 * 3
        #expect(out[200] == expected200)
    }

    /// Packs sixteen 6-bit Q3_K scales as ggml-common.h describes: the low 4 bits go to the low nibble of byte k
    /// (k < 8) or the high nibble of byte k−8 (k ≥ 8); the high 2 bits go to byte 8 + k%4 at bit 2·(k/4).
    private func packQ3Scales(_ s: [Int]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 12)
        for k in 0..<16 {
            let v = UInt8(s[k])
            if k < 8 { out[k] |= v & 0xF } else { out[k - 8] |= (v & 0xF) << 4 }
            out[8 + k % 4] |= (v >> 4) << UInt8(2 * (k / 4))
        }
        return out
    }

    @Test("Q3_K: signed 6-bit scales, hmask high bit (clear = −4)")
    func q3_K() {
        let scale6 = [32, 33, 31, 0, 63, 40, 20, 47, 1, 62, 32, 16, 48, 35, 29, 8]  // stored values; scale = s − 32
        let packed = packQ3Scales(scale6)
        // byte 8 collects the high bits of scales 0, 4, 8, 12: 32>>4=2, 63>>4=3, 1>>4=0, 48>>4=3 → 0b11_00_11_10
        #expect(packed[8] == 0b1100_1110)
        let hmask = (0..<32).map { UInt8(($0 * 37 + 11) & 0xFF) }
        let qs = (0..<64).map { UInt8(($0 * 7 + 3) & 0xFF) }
        let block = hmask + qs + packed + le(F16.half)
        #expect(block.count == 110)
        let out = decode(.q3_K, block)
        for i in 0..<256 {
            let n = i / 128, group = (i % 128) / 32, l = i % 32
            let low = Int(qs[32 * n + l] >> UInt8(2 * group)) & 3
            let highSet = (hmask[l] >> UInt8(i / 32)) & 1 == 1  // bit b of hmask[l] ↔ b-th group of 32 values
            let q = low - (highSet ? 0 : 4)
            let expected = 0.5 * Float(scale6[i / 16] - 32) * Float(q)
            #expect(out[i] == expected, "value \(i)")
        }
        // value 0: scale 32−32 = 0 → 0. value 16: sub-block 1, scale 33−32 = 1; qs[16] = 115 = 0b01_11_00_11 → field 0
        // = 3; hmask[16] = 603 & 255 = 91 = 0b0101_1011, bit 0 set → q = 3 → 0.5·1·3
        #expect(out[0] == 0 && out[16] == 1.5)
        // value 80: sub-block 5, scale 40−32 = 8; qs[16] field 2 = 3; hmask[16] bit 2 clear → q = 3 − 4 → 0.5·8·(−1)
        #expect(out[80] == -4)
        // value 52: sub-block 3, scale 0−32 = −32; qs[20] = 143 = 0b10_00_11_11 → field 1 = 3; hmask[20] = 751 & 255
        // = 239, bit 1 set → q = 3 → 0.5·(−32)·3
        #expect(out[52] == -48)
    }

    /// Packs eight 6-bit (scale, min) pairs as ggml's `get_scale_min_k4` unpacks them (Q4_K/Q5_K `scales[12]`):
    /// j < 4: s[j] = sc[j] | (sc[j+4] >> 4) << 6, s[j+4] = mn[j] | (mn[j+4] >> 4) << 6;
    /// s[j+8] = (sc[j+4] & 15) | (mn[j+4] & 15) << 4.
    private func packK4Scales(_ sc: [Int], _ mn: [Int]) -> [UInt8] {
        var s = [UInt8](repeating: 0, count: 12)
        for j in 0..<4 {
            s[j] = UInt8(sc[j] | (sc[j + 4] >> 4) << 6)
            s[j + 4] = UInt8(mn[j] | (mn[j + 4] >> 4) << 6)
            s[j + 8] = UInt8((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4)
        }
        return s
    }

    // scales and mins for sub-blocks 4–7 use all six bits, so the packed high bits matter
    private let k4Scales = [1, 63, 17, 32, 48, 5, 63, 33]
    private let k4Mins = [0, 2, 60, 31, 16, 47, 9, 63]

    @Test("Q4_K: 6-bit packed scales/mins, y = d·sc·q − dmin·m")
    func q4_K() {
        let packed = packK4Scales(k4Scales, k4Mins)
        #expect(packed == [193, 63, 209, 160, 64, 130, 60, 223, 0, 245, 159, 241])  // by hand from the rule above
        let qs = (0..<128).map { UInt8(($0 * 11 + 5) & 0xFF) }
        let block = le(F16.half) + le(F16.quarter) + packed + qs
        #expect(block.count == 144)
        let out = decode(.q4_K, block)
        for i in 0..<256 {
            let c = i / 64, r = i % 64
            let sub = 2 * c + (r < 32 ? 0 : 1)
            let q = r < 32 ? Int(qs[32 * c + r] & 0xF) : Int(qs[32 * c + r - 32] >> 4)
            let expected = 0.5 * Float(k4Scales[sub]) * Float(q) - 0.25 * Float(k4Mins[sub])
            #expect(out[i] == expected, "value \(i)")
        }
        // value 200: chunk 3, r = 8 → sub-block 6 (sc 63, m 9), qs[104] = 125 = 0x7D → low nibble 13
        let expected200: Float = 0.5 * 63 * 13 - 0.25 * 9
        #expect(out[200] == expected200)
        // value 255: sub-block 7 (sc 33, m 63), qs[127] = 1402 & 255 = 122 = 0x7A → high nibble 7
        let expected255: Float = 0.5 * 33 * 7 - 0.25 * 63
        #expect(out[255] == expected255)
    }

    @Test("Q5_K: as Q4_K plus qh bit (i/32) of qh[i%32] adding 16")
    func q5_K() {
        let packed = packK4Scales(k4Scales, k4Mins)
        let qh = (0..<32).map { UInt8(($0 * 29 + 1) & 0xFF) }
        let qs = (0..<128).map { UInt8(($0 * 11 + 5) & 0xFF) }
        let block = le(F16.half) + le(F16.quarter) + packed + qh + qs
        #expect(block.count == 176)
        let out = decode(.q5_K, block)
        for i in 0..<256 {
            let c = i / 64, r = i % 64
            let sub = 2 * c + (r < 32 ? 0 : 1)
            let low = r < 32 ? Int(qs[32 * c + r] & 0xF) : Int(qs[32 * c + r - 32] >> 4)
            let high = Int(qh[i % 32] >> UInt8(i / 32)) & 1  // chunk c: bit 2c (low nibbles), bit 2c+1 (high)
            let expected = 0.5 * Float(k4Scales[sub]) * Float(low + 16 * high) - 0.25 * Float(k4Mins[sub])
            #expect(out[i] == expected, "value \(i)")
        }
        // value 0: qs[0] = 5 → 5, qh[0] = 1 bit 0 set → 21; sub-block 0 (sc 1, m 0)
        let expected0: Float = 0.5 * 1 * 21
        #expect(out[0] == expected0)
        // value 33: sub-block 1 (sc 63, m 2), qs[1] = 16 → high nibble 1, qh[1] = 30 bit 1 set → 17
        let expected33: Float = 0.5 * 63 * 17 - 0.25 * 2
        #expect(out[33] == expected33)
    }

    @Test("Q6_K: 4+2-bit values minus 32, signed int8 scales")
    func q6_K() {
        let scales: [Int8] = [-128, 127, -1, 1, 2, -3, 64, -64, 5, 10, -20, 33, 0, 7, -7, 100]
        let ql = (0..<128).map { UInt8(($0 * 13 + 7) & 0xFF) }
        let qh = (0..<64).map { UInt8(($0 * 17 + 3) & 0xFF) }
        let block = ql + qh + scales.map { UInt8(bitPattern: $0) } + le(F16.half)
        #expect(block.count == 210)
        let out = decode(.q6_K, block)
        for i in 0..<256 {
            let n = i / 128, g = (i % 128) / 32, l = i % 32
            let lq = ql[64 * n + l + (g & 1) * 32]  // groups 0, 2 read L[l]; groups 1, 3 read L[l+32]
            let low4 = Int(g < 2 ? lq & 0xF : lq >> 4)  // groups 0, 1: low nibble; 2, 3: high nibble
            let high2 = Int(qh[32 * n + l] >> UInt8(2 * g)) & 3
            let expected = 0.5 * Float(scales[i / 16]) * Float((low4 | high2 << 4) - 32)
            #expect(out[i] == expected, "value \(i)")
        }
        // value 0: ql[0] = 7, qh[0] = 3 → 7 | 3<<4 = 55 → 23; scale −128 → 0.5·(−128)·23
        #expect(out[0] == -1472)
        // value 96: group 3 → ql[32] = 423 & 255 = 167 = 0xA7 → high nibble 10; qh[0] >> 6 = 0 → 10 − 32 = −22;
        // scale index 6 = 64
        let expected96: Float = 0.5 * 64 * -22
        #expect(out[96] == expected96)
    }

    @Test("blocks decode in order and K-quants work through TensorView")
    func multiBlockTensorView() throws {
        // two Q8_0 blocks with different scales
        let b0 = le(F16.one) + [UInt8](repeating: 1, count: 32)
        let b1 = le(F16.minusHalf) + [UInt8](repeating: 4, count: 32)
        let storage = OwnedBytes(count: 68)
        for (i, b) in (b0 + b1).enumerated() { storage.buffer[i] = b }
        let view = TensorView(
            name: "t", shape: [2, 32], encoding: .ggml(.q8_0), bytes: storage.view(count: 68), owner: storage)
        #expect(try view.floats() == [Float](repeating: 1, count: 32) + [Float](repeating: -2, count: 32))
    }

    // MARK: - Cross-implementation vectors (gguf-py)

    private static func fixture() throws -> JSONValue {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/quant_vectors.json")
        let data = try Data(contentsOf: url)
        return try JSONParser.parse([UInt8](data))
    }

    @Test("dequantization matches gguf-py bit for bit for every supported quant type")
    func dequantizeVectors() throws {
        let root = try Self.fixture()
        let section = try #require(root["dequantize"]?.objectValue)
        let quantTypes = GGMLType.allCases.filter { $0.canDequantize && $0.denseType == nil }
        #expect(Set(section.keys) == Set(quantTypes.map(\.name)), "fixture must cover every decodable quant type")
        for (name, entry) in section.pairs {
            let type = try #require(GGMLType(name: name))
            let block = try #require(entry["blocks_hex"]?.stringValue)
            let raw = bytes(hex: block)
            #expect(entry["block_bytes"]?.intValue == Int64(type.blockBytes))
            let bits = try #require(entry["bits"]?.arrayValue).map { UInt32($0.intValue!) }
            let out = decode(type, raw)
            #expect(out.count == bits.count, "\(name)")
            var mismatches = 0
            for i in 0..<min(out.count, bits.count) where out[i].bitPattern != bits[i] {
                if mismatches < 5 {
                    Issue.record("\(name)[\(i)]: got \(out[i]), gguf-py \(Float(bitPattern: bits[i]))")
                }
                mismatches += 1
            }
            #expect(mismatches == 0, "\(name): \(mismatches) values differ")
        }
    }

    @Test("quantization matches gguf-py byte for byte (Q8_0, Q4_0, Q4_1)")
    func quantizeVectors() throws {
        let root = try Self.fixture()
        let section = try #require(root["quantize"]?.objectValue)
        let encodable = GGMLType.allCases.filter { $0.canQuantize && $0.denseType == nil }
        #expect(Set(section.keys) == Set(encodable.map(\.name)))
        for (name, entry) in section.pairs {
            let type = try #require(GGMLType(name: name))
            let input = try #require(entry["input_bits"]?.arrayValue).map { Float(bitPattern: UInt32($0.intValue!)) }
            let expected = bytes(hex: try #require(entry["blocks_hex"]?.stringValue))
            let got = encode(type, input)
            #expect(got.count == expected.count)
            let firstDiff = zip(got, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            let block = (firstDiff ?? 0) / type.blockBytes
            #expect(firstDiff == nil, "\(name): first differing byte \(firstDiff ?? -1) (block \(block))")
        }
    }

    // MARK: - Encoders: hand cases and round trips

    @Test("Q8_0 encoder rounds half away from zero (roundf), not to even")
    func q8_0Rounding() {
        // amax = 127 → d = 1 exactly, so q = roundf(x)
        var x: [Float] = [127, 0.5, 1.5, 2.5, -0.5, -2.5, 3.49, -3.51]
        x += [Float](repeating: 0, count: 24)
        let b = encode(.q8_0, x)
        #expect(Array(b[0..<2]) == le(F16.one))
        #expect(b[2..<10].map { Int8(bitPattern: $0) } == [127, 1, 2, 3, -1, -3, 3, -4])
    }

    @Test("Q4_0 encoder keeps the sign of the largest magnitude; Q4_1 stores min and range/15")
    func q4Encoders() {
        // max by magnitude is −8 (first of ±8), so d = −8 / −8 = 1, id = 1, q = min(15, trunc(x + 8.5))
        var x: [Float] = [-8, 8, 0, 1, -1, 7.4, 7.6, -0.5]
        x += [Float](repeating: 0.25, count: 24)
        let b = encode(.q4_0, x)
        #expect(Array(b[0..<2]) == le(F16.one))
        let nibbles: [Int] = (0..<32).map { (i: Int) -> Int in i < 16 ? Int(b[2 + i] & 0xF) : Int(b[2 + i - 16] >> 4) }
        // −8+8.5 → 0; 8+8.5 = 16.5 → 16 capped to 15; 0 → 8; 1 → 9; −1 → 7; 7.4 → 15.9 → 15; 7.6 → 15 (cap); −0.5 → 8
        #expect(Array(nibbles[0..<8]) == [0, 15, 8, 9, 7, 15, 15, 8])
        #expect(nibbles[8..<32].allSatisfy { $0 == 8 })  // 0.25 + 8.5 = 8.75 → 8
        // same block with the signs of ±8 swapped: now max = +8, d = −1
        x[0] = 8; x[1] = -8
        #expect(Array(encode(.q4_0, x)[0..<2]) == le(F16.minusOne))

        // Q4_1: min −1, max 14 → d = 1, m = −1, q = trunc(x + 1 + 0.5)
        var y: [Float] = [-1, 14, 0, 0.49, 0.5, 13.4]
        y += [Float](repeating: 2, count: 26)
        let c = encode(.q4_1, y)
        #expect(Array(c[0..<4]) == le(F16.one) + le(F16.minusOne))
        let n1 = (0..<6).map { Int(c[4 + $0] & 0xF) }
        #expect(n1 == [0, 15, 1, 1, 2, 14])
        // a constant block has d = 0 and id = 0: every nibble is trunc(0.5) = 0 and decoding gives m back
        let constant = [Float](repeating: 0.75, count: 32)
        #expect(decode(.q4_1, encode(.q4_1, constant)) == constant)
    }

    @Test("quantize → dequantize error stays within half a step", arguments: [GGMLType.q8_0, .q4_0, .q4_1])
    func roundTrip(type: GGMLType) {
        var rng = SplitMix(state: 42 &+ UInt64(type.rawValue))
        let blocks = 64
        var x = [Float](repeating: 0, count: 32 * blocks)
        for b in 0..<blocks {
            let scale = Float(1 << (b % 12)) / 256  // magnitudes from 2^-8 to 8
            for i in 0..<32 { x[32 * b + i] = rng.unit() * scale }
        }
        let encoded = encode(type, x)
        let y = decode(type, encoded)
        for b in 0..<blocks {
            let xs = Array(x[32 * b..<32 * b + 32])
            let base = b * type.blockBytes
            let d16 = HalfPrecision.f16ToFloat(UInt16(encoded[base]) | UInt16(encoded[base + 1]) << 8)
            // The exact (unrounded) scale each encoder derives, recomputed here from its definition; the f16
            // rounding of d (and of m) adds up to qmax·|d − d16| (+ |m − m16|) on top of the half step.
            let d: Float, qmax: Float, mError: Float
            switch type {
            case .q8_0:
                d = xs.map(abs).max()! / 127; qmax = 127; mError = 0
            case .q4_0:
                let m = xs.max { abs($0) < abs($1) }!
                d = m / -8; qmax = 8; mError = 0
            default:
                d = (xs.max()! - xs.min()!) / 15; qmax = 15
                let m16 = HalfPrecision.f16ToFloat(UInt16(encoded[base + 2]) | UInt16(encoded[base + 3]) << 8)
                mError = abs(xs.min()! - m16)
            }
            for i in 0..<32 {
                let err = abs(xs[i] - y[32 * b + i])
                var bound = abs(d16) / 2 + qmax * abs(d - d16) + mError
                // Q4_0 has 7 levels on one side of zero and 8 on the other: values opposite to `max` beyond
                // 7.5 steps are clamped to level 7 (e.g. max = −1, x = +1 → 0.875).
                if type == .q4_0 && xs[i] / d > 7.5 { bound = max(bound, abs(xs[i] - 7 * d16) + qmax * abs(d - d16)) }
                #expect(err <= bound * 1.0001 + 1e-12, "\(type.name) block \(b) value \(i): error \(err) > \(bound)")
            }
        }
    }

    @Test("quantized encodings round-trip through TensorView")
    func tensorViewEncoding() throws {
        var rng = SplitMix(state: 7)
        let x = (0..<64).map { _ in rng.unit() }
        for type in [GGMLType.q8_0, .q4_0, .q4_1] {
            let view = try x.withUnsafeBufferPointer { buffer in
                try TensorView.encoding(buffer, name: "w", shape: [2, 32], as: .ggml(type))
            }
            #expect(view.bytes.count == 2 * type.blockBytes)
            #expect(try view.floats() == decode(type, Array(view.bytes)))
        }
    }

    // MARK: - Type table consistency and unsupported types

    @Test("canDequantize and canQuantize match what the codec implements")
    func capabilityTables() {
        let decodable = GGMLType.allCases.filter(\.canDequantize).filter { $0.denseType == nil }
        #expect(Set(decodable) == [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K])
        #expect(Set(GGMLType.allCases.filter(\.canQuantize)) == [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1])
        // every decodable type decodes a zero block (a missing codec case would trap here)
        for type in decodable {
            #expect(decode(type, [UInt8](repeating: 0, count: type.blockBytes)).allSatisfy { $0 == 0 })
        }
    }

    @Test("unsupported types throw unsupportedType", arguments: [GGMLType.iq2_xxs, .mxfp4, .tq1_0])
    func unsupported(type: GGMLType) {
        let storage = OwnedBytes(count: type.blockBytes)
        let view = TensorView(
            name: "blk.0.ffn_up.weight", shape: [type.blockSize], encoding: .ggml(type),
            bytes: storage.view(count: type.blockBytes), owner: storage)
        #expect(throws: TensorDataError.unsupportedType(tensor: "blk.0.ffn_up.weight", type: type.name)) {
            try view.floats()
        }
    }
}
