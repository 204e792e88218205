/// A bounds-checked little-endian reader over a byte buffer. Every read checks the remaining length first
/// and reports a failure as `nil` instead of reading past the end, in the style of ggml's `gguf_reader`.
public struct ByteCursor {
    /// The whole buffer.
    public let bytes: UnsafeRawBufferPointer
    /// Offset of the next byte to read.
    public private(set) var offset: Int

    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    /// Bytes left after `offset`.
    public var remaining: Int { bytes.count - offset }

    /// Reads a little-endian integer, or returns nil when fewer than its size remain.
    public mutating func read<T: FixedWidthInteger>(_: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { return nil }
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: value)
    }

    /// Reads a little-endian `Float`.
    public mutating func readFloat() -> Float? { read(UInt32.self).map { Float(bitPattern: $0) } }

    /// Reads a little-endian `Double`.
    public mutating func readDouble() -> Double? { read(UInt64.self).map { Double(bitPattern: $0) } }

    /// Returns a view of the next `count` bytes and advances, or nil when fewer remain.
    public mutating func readBytes(_ count: Int) -> UnsafeRawBufferPointer? {
        guard count >= 0, remaining >= count else { return nil }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
        offset += count
        return slice
    }

    /// Moves to `newOffset` (must be within the buffer).
    public mutating func seek(to newOffset: Int) -> Bool {
        guard newOffset >= 0, newOffset <= bytes.count else { return false }
        offset = newOffset
        return true
    }
}
