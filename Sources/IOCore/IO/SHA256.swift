import CPlatform
import Foundation
import TensorCore

/// SHA-256 (FIPS 180-4), written out so that manifests can record source digests without a crypto dependency.
public struct SHA256: Sendable {
    private var state: [UInt32] = [
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19,
    ]
    private var buffer: [UInt8] = []
    private var length: UInt64 = 0

    /// Whether the x86 SHA extensions may be used (they are when the CPU has them); false forces portable C.
    let allowHardware: Bool

    /// A fresh hasher; `allowHardware: false` forces the portable compression (tests compare both).
    public init(allowHardware: Bool = true) { self.allowHardware = allowHardware }

    /// Whether this CPU runs SHA-256 with the x86 SHA extensions.
    public static var hasHardwareSupport: Bool { moekit_sha256_hardware() != 0 }

    /// Feeds bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        length &+= UInt64(bytes.count)
        var index = 0
        if !buffer.isEmpty {
            let take = min(64 - buffer.count, bytes.count)
            buffer += bytes[0..<take]
            index = take
            if buffer.count == 64 {
                buffer.withUnsafeBytes { compress($0.baseAddress!, blocks: 1) }
                buffer.removeAll(keepingCapacity: true)
            }
        }
        let blocks = (bytes.count - index) / 64
        if blocks > 0 {
            compress(bytes.baseAddress! + index, blocks: blocks)
            index += 64 * blocks
        }
        if index < bytes.count { buffer += bytes[index...] }
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The 32-byte digest.
    public mutating func finalize() -> [UInt8] {
        let bitLength = length &* 8
        var padding: [UInt8] = [0x80]
        let used = (buffer.count + 1) % 64
        padding += [UInt8](repeating: 0, count: used <= 56 ? 56 - used : 120 - used)
        for shift in stride(from: 56, through: 0, by: -8) { padding.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        let saved = length
        update(padding)
        length = saved
        var out: [UInt8] = []
        for word in state { out += [UInt8(word >> 24), UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 8), UInt8(truncatingIfNeeded: word)] }
        return out
    }

    /// Lowercase hex digest of `bytes`.
    public static func hex(_ bytes: [UInt8]) -> String {
        var hasher = SHA256()
        hasher.update(bytes)
        return hexString(hasher.finalize())
    }

    /// Lowercase hex digest of a file, hashed straight from a read-only memory map (no read(2) copies): chunks of
    /// 8 MiB are prefetched ahead of the cursor and their pages released behind it, so resident memory stays small.
    /// - Throws: `FileWriteError.cannotCreate` when the file cannot be opened or mapped.
    public static func hex(file path: String) throws -> String {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch {
            throw FileWriteError.cannotCreate(path: path, reason: "cannot open for reading")
        }
        var hasher = SHA256()
        let chunk = 8 << 20
        let count = file.count
        if count > 0 { file.adviseSequential(0..<min(count, 2 * chunk)) }
        var offset = 0
        while offset < count {
            let end = min(count, offset + chunk)
            if end < count { file.adviseSequential(end..<min(count, end + chunk)) }
            hasher.update(UnsafeRawBufferPointer(rebasing: file.bytes[offset..<end]))
            file.dropPages(offset..<end)
            offset = end
        }
        return hexString(hasher.finalize())
    }

    static func hexString(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return String(digest.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
    }

    private mutating func compress(_ blocks: UnsafeRawPointer, blocks count: Int) {
        let hardware: Int32 = allowHardware ? 1 : 0
        state.withUnsafeMutableBufferPointer {
            moekit_sha256_blocks($0.baseAddress!, blocks.assumingMemoryBound(to: UInt8.self), count, hardware)
        }
    }
}
