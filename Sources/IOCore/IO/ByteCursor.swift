/// A bounds-checked little-endian reader over a byte buffer. Every read checks the remaining length first
/// and reports a failure as `nil` instead of reading past the end, in the style of ggml's `gguf_reader`.
///
/// The readers are `@inlinable` so that callers in other modules get them specialised for the integer type:
/// unspecialised, every `read(UInt64.self)` looked up generic metadata at run time. Together with the string change
/// in `GGUFLayout.readString` this took SmolLM2's GGUF metadata from 19–21 to 6–7.5 ms (`moekit-bench prepare-data`,
/// its `start-up` line).
@frozen
public struct ByteCursor {
    /// The whole buffer.
    public let bytes: UnsafeRawBufferPointer
    @usableFromInline var position: Int

    /// Offset of the next byte to read.
    @inlinable public var offset: Int { position }

    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.position = offset
    }

    /// Bytes left after `offset`.
    @inlinable public var remaining: Int { bytes.count - position }

    /// Reads a little-endian integer, or returns nil when fewer than its size remain.
    @inlinable
    public mutating func read<T: FixedWidthInteger>(_: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { return nil }
        let value = bytes.loadUnaligned(fromByteOffset: position, as: T.self)
        position += size
        return T(littleEndian: value)
    }

    /// Reads a little-endian `Float`.
    @inlinable
    public mutating func readFloat() -> Float? { read(UInt32.self).map { Float(bitPattern: $0) } }

    /// Reads a little-endian `Double`.
    @inlinable
    public mutating func readDouble() -> Double? { read(UInt64.self).map { Double(bitPattern: $0) } }

    /// Returns a view of the next `count` bytes and advances, or nil when fewer remain.
    @inlinable
    public mutating func readBytes(_ count: Int) -> UnsafeRawBufferPointer? {
        guard count >= 0, remaining >= count else { return nil }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[position..<position + count])
        position += count
        return slice
    }

    /// Moves to `newOffset` (must be within the buffer).
    @inlinable
    public mutating func seek(to newOffset: Int) -> Bool {
        guard newOffset >= 0, newOffset <= bytes.count else { return false }
        position = newOffset
        return true
    }
}
