import Testing

@testable import IOCore

@Suite("SHA-256")
struct SHA256Tests {
    static func hex(_ bytes: [UInt8], hardware: Bool) -> String {
        var hasher = SHA256(allowHardware: hardware)
        hasher.update(bytes)
        return SHA256.hexString(hasher.finalize())
    }

    @Test("FIPS 180-4 / NIST vectors, with and without the x86 SHA extensions", arguments: [true, false])
    func vectors(hardware: Bool) {
        #expect(Self.hex([], hardware: hardware) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Self.hex(Array("abc".utf8), hardware: hardware) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Self.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8), hardware: hardware)
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(Self.hex([UInt8](repeating: 0x61, count: 1_000_000), hardware: hardware)
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // Split updates give the same digest.
        var hasher = SHA256(allowHardware: hardware)
        let bytes = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        hasher.update(Array(bytes[0..<5])); hasher.update(Array(bytes[5..<50])); hasher.update(Array(bytes[50...]))
        #expect(SHA256.hexString(hasher.finalize()) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test("hardware and portable compression agree on every length 0…300 and on odd update splits")
    func hardwareMatchesPortable() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let data: [UInt8] = (0..<4096).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        for length in 0...300 {
            #expect(Self.hex(Array(data[0..<length]), hardware: true) == Self.hex(Array(data[0..<length]), hardware: false), "length \(length)")
        }
        var a = SHA256(allowHardware: true), b = SHA256(allowHardware: false)
        var offset = 0
        for step in [1, 63, 64, 65, 128, 1000, 7, 2000] where offset + step <= data.count {
            a.update(Array(data[offset..<(offset + step)]))
            b.update(Array(data[offset..<(offset + step)]))
            offset += step
        }
        #expect(a.finalize() == b.finalize())
        print("SHA-256 x86 extensions available: \(SHA256.hasHardwareSupport)")
    }
}
