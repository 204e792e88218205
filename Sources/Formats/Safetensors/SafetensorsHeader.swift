import IOCore
import TensorCore

/// The validated header of a safetensors file: metadata and every tensor's dtype, shape and byte range.
///
/// Parsing follows the reference Rust reader (`read_metadata` and `Metadata::validate` in
/// `safetensors/src/tensor.rs`): the whole layout is checked (header length, UTF-8, JSON, entry fields, offsets
/// tiling the data buffer exactly, sizes with overflow-checked arithmetic, file length) before any tensor data is
/// touched, and nothing is allocated from an untrusted size. Unlike the reference it also rejects duplicate JSON
/// keys. Unknown extra fields inside a tensor entry are ignored, as in the reference.
public struct SafetensorsHeader: Sendable {
    /// Largest header the reference reader and writer accept.
    public static let maximumHeaderLength = 100_000_000

    /// One tensor entry.
    public struct Entry: Sendable, Equatable {
        /// The tensor's name (the JSON key).
        public let name: String
        /// Element type.
        public let dtype: DType
        /// Dimensions, outermost first.
        public let shape: [Int]
        /// `data_offsets`: byte range relative to the start of the data buffer.
        public let dataRange: Range<Int>
    }

    /// `N`, the JSON length declared in the first 8 bytes.
    public let headerLength: Int
    /// Offset of the data buffer in the file (`8 + N`).
    public let dataStart: Int
    /// `__metadata__` pairs in file order (empty when absent).
    public let metadata: [(key: String, value: String)]
    /// Tensor entries sorted by data offset.
    public let entries: [Entry]

    /// Parses and validates the layout of a complete safetensors file held in `fileBytes`.
    /// - Parameters:
    ///   - fileBytes: the whole file (usually a memory mapping).
    ///   - path: used in error messages only.
    /// - Throws: `SafetensorsError` naming the first problem found.
    public static func parse(fileBytes: UnsafeRawBufferPointer, path: String) throws(SafetensorsError)
        -> SafetensorsHeader
    {
        var cursor = ByteCursor(fileBytes)
        guard let declared = cursor.read(UInt64.self) else {
            throw .fileTooSmall(path: path, size: fileBytes.count)
        }
        guard declared <= UInt64(maximumHeaderLength) else {
            throw .headerTooLarge(path: path, headerLength: declared)
        }
        let n = Int(declared)
        guard let headerBytes = cursor.readBytes(n) else {
            throw .headerBeyondFile(path: path, headerLength: declared, fileSize: fileBytes.count)
        }
        guard String(validating: headerBytes, as: UTF8.self) != nil else { throw .headerNotUTF8(path: path) }

        let root: JSONValue
        do {
            root = try JSONParser.parse(headerBytes)
        } catch {
            if case .duplicateKey(let key, _) = error { throw .duplicateKey(path: path, key: key) }
            throw .headerNotJSON(path: path, reason: error.description)
        }
        guard case .object(let object) = root else { throw .headerNotObject(path: path, found: root.typeName) }

        var metadata: [(key: String, value: String)] = []
        var raw: [RawEntry] = []
        raw.reserveCapacity(object.count)
        for (name, value) in object.pairs {
            if name == "__metadata__" {
                metadata = try parseMetadata(value, path: path)
            } else {
                raw.append(try parseEntry(name: name, value: value, path: path))
            }
        }

        // Reference order: sort by (begin, end); every tensor must start where the previous one ended, and its
        // length must be exactly shape × dtype.
        raw.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var entries: [Entry] = []
        entries.reserveCapacity(raw.count)
        var expectedBegin = 0
        for item in raw {
            guard item.begin == expectedBegin, item.end >= item.begin else {
                throw .invalidOffsets(
                    path: path, tensor: item.name, begin: item.begin, end: item.end, expectedBegin: expectedBegin)
            }
            expectedBegin = item.end
            guard let expected = byteCount(shape: item.shape, dtype: item.dtype) else {
                throw .sizeOverflow(path: path, tensor: item.name, shape: item.shape)
            }
            guard item.end - item.begin == expected else {
                throw .sizeMismatch(
                    path: path, tensor: item.name, shape: item.shape, dtype: item.dtype.rawValue, begin: item.begin,
                    end: item.end, expected: expected)
            }
            entries.append(Entry(name: item.name, dtype: item.dtype, shape: item.shape, dataRange: item.begin..<item.end))
        }

        let dataStart = 8 + n
        let (expectedFileSize, overflow) = dataStart.addingReportingOverflow(expectedBegin)
        guard !overflow, expectedFileSize == fileBytes.count else {
            throw .dataLengthMismatch(
                path: path, expectedFileSize: overflow ? Int.max : expectedFileSize, actualFileSize: fileBytes.count)
        }
        return SafetensorsHeader(headerLength: n, dataStart: dataStart, metadata: metadata, entries: entries)
    }

    /// An entry before offset validation (end may precede begin).
    private struct RawEntry {
        let name: String
        let dtype: DType
        let shape: [Int]
        let begin: Int
        let end: Int
    }

    /// `product(shape) × dtype.byteSize`, or nil on overflow.
    static func byteCount(shape: [Int], dtype: DType) -> Int? {
        var elements = 1
        for d in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow, d >= 0 else { return nil }
            elements = product
        }
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        return overflow ? nil : bytes
    }

    private static func parseMetadata(_ value: JSONValue, path: String) throws(SafetensorsError)
        -> [(key: String, value: String)]
    {
        switch value {
        case .null:
            return []
        case .object(let object):
            var pairs: [(key: String, value: String)] = []
            pairs.reserveCapacity(object.count)
            for (key, item) in object.pairs {
                guard case .string(let text) = item else {
                    throw .invalidMetadata(path: path, key: key, reason: "value must be a string, found \(item.typeName)")
                }
                pairs.append((key, text))
            }
            return pairs
        default:
            throw .invalidMetadata(path: path, key: nil, reason: "must be an object, found \(value.typeName)")
        }
    }

    /// A non-negative JSON integer (serde's `usize`: floats, negatives and strings are rejected).
    private static func nonNegativeInteger(_ value: JSONValue) -> Int? {
        guard case .integer(let i) = value, i >= 0 else { return nil }
        return Int(exactly: i)
    }

    private static func parseEntry(name: String, value: JSONValue, path: String) throws(SafetensorsError) -> RawEntry {
        guard case .object(let fields) = value else {
            throw .invalidEntry(path: path, tensor: name, field: "entry", reason: "must be an object, found \(value.typeName)")
        }
        guard let dtypeValue = fields["dtype"] else {
            throw .invalidEntry(path: path, tensor: name, field: "dtype", reason: "missing")
        }
        guard case .string(let dtypeName) = dtypeValue else {
            throw .invalidEntry(path: path, tensor: name, field: "dtype", reason: "must be a string, found \(dtypeValue.typeName)")
        }
        guard SafetensorsDTypes.isKnown(dtypeName) else {
            throw .unknownDType(path: path, tensor: name, dtype: dtypeName)
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw .unsupportedDType(path: path, tensor: name, dtype: dtypeName)
        }

        guard let shapeValue = fields["shape"] else {
            throw .invalidEntry(path: path, tensor: name, field: "shape", reason: "missing")
        }
        guard case .array(let dims) = shapeValue else {
            throw .invalidEntry(path: path, tensor: name, field: "shape", reason: "must be an array, found \(shapeValue.typeName)")
        }
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        for dim in dims {
            guard let d = nonNegativeInteger(dim) else {
                throw .invalidEntry(
                    path: path, tensor: name, field: "shape",
                    reason: "dimensions must be non-negative integers, found \(JSONWriter.serialize(dim))")
            }
            shape.append(d)
        }

        guard let offsetsValue = fields["data_offsets"] else {
            throw .invalidEntry(path: path, tensor: name, field: "data_offsets", reason: "missing")
        }
        guard case .array(let offsets) = offsetsValue, offsets.count == 2,
            let begin = nonNegativeInteger(offsets[0]), let end = nonNegativeInteger(offsets[1])
        else {
            throw .invalidEntry(
                path: path, tensor: name, field: "data_offsets",
                reason: "must be [begin, end] with non-negative integers, found \(JSONWriter.serialize(offsetsValue))")
        }
        // end < begin is reported by the offset check (reference: InvalidOffset).
        return RawEntry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
    }
}
