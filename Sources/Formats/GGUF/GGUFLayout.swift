import CPlatform
import IOCore
/// The parsed structure of a GGUF file (header, metadata, tensor infos), validated against the bytes it came
/// from, but holding no reference to them.
///
/// A port of the checks in ggml's `gguf.cpp` (`gguf_init_from_file_impl`) plus llama.cpp's "data is not within
/// the file bounds" check: every read is bounds-checked, counts and lengths are compared with the remaining
/// bytes before anything is allocated, and every failure is a typed `GGUFError`. `GGUFFile` maps a file and
/// parses it with this; tests and fuzzers parse byte buffers directly.
struct GGUFLayout: Sendable {
    var version: UInt32
    var metadata: GGUFMetadata
    var alignment: Int
    var dataOffset: Int
    var tensorInfos: [GGUFTensorInfo]

    /// Parses `bytes`; `path` is only used in error messages.
    static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws(GGUFError) -> GGUFLayout {
        var parser = GGUFParser(bytes: bytes, path: path)
        return try parser.parse()
    }

    /// Builds a view per tensor into `bytes` (which must be the buffer this layout was parsed from), kept alive
    /// by `owner`.
    func tensorViews(in bytes: UnsafeRawBufferPointer, owner: AnyObject) -> [TensorView] {
        tensorInfos.map { info in
            let start = dataOffset + info.offset
            let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<start + info.byteCount])
            return TensorView(
                name: info.name, shape: info.shape, encoding: .ggml(info.type), bytes: slice, owner: owner,
                fileOffset: start)
        }
    }
}

/// The reading state behind `GGUFLayout.parse`.
private struct GGUFParser {
    var cursor: ByteCursor
    let path: String

    init(bytes: UnsafeRawBufferPointer, path: String) {
        cursor = ByteCursor(bytes)
        self.path = path
    }

    var fileSize: Int { cursor.bytes.count }

    mutating func parse() throws(GGUFError) -> GGUFLayout {
        guard fileSize > 0 else { throw .emptyFile(path: path) }

        // Header.
        guard let magic = cursor.readBytes(4) else {
            throw .truncated(path: path, field: "magic", offset: cursor.offset)
        }
        guard magic.elementsEqual([0x47, 0x47, 0x55, 0x46]) else {
            throw .badMagic(path: path, found: Array(magic))
        }
        let version = try read(UInt32.self, "version")
        if version != 0 && version & 0xFFFF == 0 { throw .bigEndian(path: path) }
        guard version == 2 || version == 3 else { throw .unsupportedVersion(path: path, version: version) }
        let tensorCount = try read(UInt64.self, "tensor_count")
        let kvCount = try read(UInt64.self, "metadata_kv_count")
        let remaining = cursor.remaining
        guard tensorCount <= UInt64(remaining / GGUFLimits.minimumTensorInfoBytes) else {
            throw .tooManyTensors(path: path, count: tensorCount, remainingBytes: remaining)
        }
        guard kvCount <= UInt64(remaining / GGUFLimits.minimumKeyValueBytes) else {
            throw .tooManyKeyValues(path: path, count: kvCount, remainingBytes: remaining)
        }

        // Key/value pairs.
        var metadata = GGUFMetadata()
        for index in 0..<Int(kvCount) {
            let keyOffset = cursor.offset
            let key = try readString(context: "key #\(index)")
            guard !key.isEmpty else { throw .emptyKey(path: path, index: index, offset: keyOffset) }
            guard !metadata.contains(key) else { throw .duplicateKey(path: path, key: key, offset: keyOffset) }
            let typeOffset = cursor.offset
            let typeID = try read(UInt32.self, "the value type of key '\(key)'")
            guard let type = GGUFValueType(rawValue: typeID) else {
                throw .unknownValueType(path: path, key: key, typeID: typeID, offset: typeOffset)
            }
            metadata[key] = try readValue(type, key: key, depth: 0)
        }

        var alignment = GGUFLimits.defaultAlignment
        if let value = metadata["general.alignment"] {
            guard case .uint32(let a) = value else { throw .alignmentNotUInt32(path: path, type: value.type) }
            guard a != 0, a & (a - 1) == 0 else { throw .invalidAlignment(path: path, alignment: Int(a)) }
            alignment = Int(a)
        }

        // Tensor infos. Offsets must be exactly sequential (ggml): expected_i = Σ_{j<i} pad(nbytes_j).
        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(Int(tensorCount))
        var names = Set<String>()
        var expectedOffset = 0
        for index in 0..<Int(tensorCount) {
            let info = try readTensorInfo(index: index, alignment: alignment, expectedOffset: expectedOffset)
            guard names.insert(info.name).inserted else { throw .duplicateTensorName(path: path, name: info.name) }
            let nbytes = info.byteCount
            // Bound the running offset by the file size so the sum can never overflow: a tensor whose bytes
            // cannot fit in the whole file is out of bounds however the data section is placed.
            guard expectedOffset <= fileSize, nbytes <= fileSize - expectedOffset else {
                let start = Self.alignUp(cursor.offset, alignment).addingReportingOverflow(expectedOffset)
                let startValue = start.overflow ? Int.max : start.partialValue
                let end = startValue.addingReportingOverflow(nbytes)
                throw .tensorDataOutOfBounds(
                    path: path, tensor: info.name, start: startValue, end: end.overflow ? Int.max : end.partialValue,
                    fileSize: fileSize)
            }
            infos.append(info)
            expectedOffset += Self.alignUp(nbytes, alignment)
        }

        // Data section: starts at the aligned end of the tensor infos. The last tensor's padding may be missing,
        // but every tensor's bytes must lie inside the file.
        let dataOffset = Self.alignUp(cursor.offset, alignment)
        for info in infos {
            let start = dataOffset + info.offset
            let end = start + info.byteCount
            guard end <= fileSize else {
                throw .tensorDataOutOfBounds(path: path, tensor: info.name, start: start, end: end, fileSize: fileSize)
            }
        }
        return GGUFLayout(
            version: version, metadata: metadata, alignment: alignment, dataOffset: dataOffset, tensorInfos: infos)
    }

    // MARK: Primitive reads

    mutating func read<T: FixedWidthInteger>(_ type: T.Type, _ field: @autoclosure () -> String) throws(GGUFError) -> T
    {
        guard let value = cursor.read(type) else {
            throw .truncated(path: path, field: field(), offset: cursor.offset)
        }
        return value
    }

    /// Reads a u64 length + UTF-8 bytes; the length is checked against the remaining bytes first.
    mutating func readString(context: @autoclosure () -> String) throws(GGUFError) -> String {
        let lengthOffset = cursor.offset
        let length = try read(UInt64.self, "the length of \(context())")
        guard length <= UInt64(cursor.remaining) else {
            throw .stringBeyondEnd(path: path, context: context(), length: length, offset: lengthOffset)
        }
        let textOffset = cursor.offset
        guard let raw = cursor.readBytes(Int(length)) else {
            throw .stringBeyondEnd(path: path, context: context(), length: length, offset: lengthOffset)
        }
        // Rejected when not UTF-8 (the C kernel), then copied by the non-generic String initializer, which finds
        // nothing to repair: Swift's generic `String(validating:as:)` over a raw buffer was the largest cost of
        // reading a tokenizer's ~100,000 strings (see `ByteCursor` for the measurement).
        guard moekit_utf8_valid(raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count) != 0 else {
            throw .invalidUTF8(path: path, context: context(), offset: textOffset)
        }
        return String(unsafeUninitializedCapacity: raw.count) { buffer in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
            return raw.count
        }
    }

    // MARK: Values

    /// Reads one value of `type` for `key`. `depth` counts enclosing arrays.
    mutating func readValue(_ type: GGUFValueType, key: String, depth: Int) throws(GGUFError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try read(UInt8.self, "the value of key '\(key)'"))
        case .int8: return .int8(try read(Int8.self, "the value of key '\(key)'"))
        case .uint16: return .uint16(try read(UInt16.self, "the value of key '\(key)'"))
        case .int16: return .int16(try read(Int16.self, "the value of key '\(key)'"))
        case .uint32: return .uint32(try read(UInt32.self, "the value of key '\(key)'"))
        case .int32: return .int32(try read(Int32.self, "the value of key '\(key)'"))
        case .float32: return .float32(Float(bitPattern: try read(UInt32.self, "the value of key '\(key)'")))
        case .bool: return .bool(try read(UInt8.self, "the value of key '\(key)'") != 0)
        case .uint64: return .uint64(try read(UInt64.self, "the value of key '\(key)'"))
        case .int64: return .int64(try read(Int64.self, "the value of key '\(key)'"))
        case .float64: return .float64(Double(bitPattern: try read(UInt64.self, "the value of key '\(key)'")))
        case .string: return .string(try readString(context: "key '\(key)'"))
        case .array: return try readArray(key: key, depth: depth + 1)
        }
    }

    mutating func readArray(key: String, depth: Int) throws(GGUFError) -> GGUFValue {
        let arrayOffset = cursor.offset
        guard depth <= GGUFLimits.maximumArrayDepth else {
            throw .arrayTooDeep(path: path, key: key, depth: depth, offset: arrayOffset)
        }
        let typeID = try read(UInt32.self, "the element type of key '\(key)'")
        guard let elementType = GGUFValueType(rawValue: typeID) else {
            throw .unknownValueType(path: path, key: key, typeID: typeID, offset: arrayOffset)
        }
        let countOffset = cursor.offset
        let count = try read(UInt64.self, "the element count of key '\(key)'")
        guard count <= UInt64(cursor.remaining / elementType.minimumEncodedSize) else {
            throw .arrayBeyondEnd(path: path, key: key, count: count, elementType: elementType, offset: countOffset)
        }
        let n = Int(count)
        var elements: [GGUFValue] = []
        elements.reserveCapacity(n)
        switch elementType {
        case .string:
            for i in 0..<n { elements.append(.string(try readString(context: "key '\(key)' element \(i)"))) }
        case .array:
            for _ in 0..<n { elements.append(try readArray(key: key, depth: depth + 1)) }
        default:
            // Fixed-size elements: the count check above already guarantees they are all present.
            for _ in 0..<n { elements.append(try readValue(elementType, key: key, depth: depth)) }
        }
        return .array(elementType, elements)
    }

    // MARK: Tensor infos

    mutating func readTensorInfo(index: Int, alignment: Int, expectedOffset: Int) throws(GGUFError) -> GGUFTensorInfo {
        let name = try readString(context: "tensor #\(index) name")
        let nameBytes = name.utf8.count
        guard nameBytes <= GGUFLimits.maximumTensorNameBytes else {
            throw .tensorNameTooLong(path: path, name: name, length: nameBytes)
        }
        let nDims = try read(UInt32.self, "the n_dims of tensor '\(name)'")
        guard nDims <= UInt32(GGUFLimits.maximumDimensions) else {
            throw .tooManyDimensions(path: path, tensor: name, count: Int(nDims))
        }
        var raw: [UInt64] = []
        for i in 0..<Int(nDims) { raw.append(try read(UInt64.self, "ne[\(i)] of tensor '\(name)'")) }
        let typeID = try read(UInt32.self, "the type of tensor '\(name)'")
        let offset = try read(UInt64.self, "the offset of tensor '\(name)'")

        var dims: [Int] = []
        dims.reserveCapacity(raw.count)
        for (i, d) in raw.enumerated() {
            guard d <= UInt64(Int64.max) else {
                throw .negativeDimension(path: path, tensor: name, index: i, value: Int64(bitPattern: d))
            }
            dims.append(Int(d))
        }
        guard let type = GGMLType(rawValue: typeID) else {
            throw .unsupportedTensorType(path: path, tensor: name, typeID: typeID)
        }
        let ne0 = dims.first ?? 1
        guard ne0 % type.blockSize == 0 else {
            throw .blockSizeMismatch(path: path, tensor: name, type: type, ne0: ne0)
        }
        // Overflow check independent of dimension order: the product of the non-zero dimensions must fit
        // (ggml checks INT64_MAX / ne[k] against the running product), and so must the byte size.
        var product = 1
        for d in dims where d != 0 {
            let (p, overflow) = product.multipliedReportingOverflow(by: d)
            guard !overflow else { throw .elementCountOverflow(path: path, tensor: name, dimensions: raw) }
            product = p
        }
        let elements = dims.contains(0) ? 0 : product
        guard type.byteCount(elements: elements) != nil else {
            throw .elementCountOverflow(path: path, tensor: name, dimensions: raw)
        }
        guard offset % UInt64(alignment) == 0 else {
            throw .misalignedOffset(path: path, tensor: name, offset: offset, alignment: alignment)
        }
        guard offset == UInt64(expectedOffset) else {
            throw .unexpectedOffset(path: path, tensor: name, offset: offset, expected: expectedOffset)
        }
        return GGUFTensorInfo(name: name, dimensions: dims, type: type, offset: Int(offset))
    }

    /// `x` rounded up to a multiple of `alignment` (a power of two); saturates instead of overflowing.
    static func alignUp(_ x: Int, _ alignment: Int) -> Int {
        let (sum, overflow) = x.addingReportingOverflow(alignment - 1)
        return overflow ? Int.max & ~(alignment - 1) : sum & ~(alignment - 1)
    }
}
