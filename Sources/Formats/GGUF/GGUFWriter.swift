import IOCore
/// Writes GGUF v3 files (little-endian), streaming tensor data.
///
/// Layout, as ggml's `gguf_write_to_buf` and gguf-py's `GGUFWriter` produce it: header (magic, version 3,
/// u64 tensor count, u64 KV count), the KVs in metadata order, the tensor infos (dims = reversed
/// `OutputTensor.shape`, i.e. ggml `ne` order), zero padding to the alignment, then each tensor's data at
/// sequential offsets, each followed by zero padding to the alignment (the last one too, which non-mmap ggml
/// loaders need). A file without tensors ends right after the KVs, unpadded.
public enum GGUFWriter {
    /// Writes `metadata` and `tensors` to `path` atomically (temporary file, `fsync`, rename).
    ///
    /// KV value types are written exactly as given: llama.cpp checks exact types (u32 for counts, f32 for
    /// epsilons, i32 arrays for token types), so the caller chooses them. Strings are written as u64 length +
    /// UTF-8 bytes without a NUL; arrays as u32 element type + u64 count + elements. Empty arrays are allowed
    /// here and read back fine by ggml, but gguf-py's writer refuses to create them.
    ///
    /// `general.alignment` is written as u32 only if `alignment != 32` (appended after the caller's keys) or if
    /// the caller put it in `metadata` (then it must be a u32 equal to `alignment`).
    ///
    /// - Parameters:
    ///   - path: Destination file; replaced only when everything was written.
    ///   - metadata: Key/value pairs in the order to write them.
    ///   - tensors: Tensors in file order. `encoding` must be `.ggml(type)` or a `.dense` dtype with a ggml type
    ///     (`GGMLType(dense:)`); `byteCount` must equal the size the shape needs; `shape.last` (ne[0]) must be a
    ///     multiple of the block size; names must be unique and shorter than 64 bytes. `produce` is called
    ///     once per tensor, in order, and must write exactly `byteCount` bytes.
    ///   - alignment: Data alignment, a power of two (default 32).
    ///   - finalizeMetadata: when given, called once after all tensor data is written and before the commit; the
    ///     header (KVs and tensor infos) is re-encoded from the metadata it returns and written over the first
    ///     one from offset 0. This lets `metadata` hold values still being computed (pending digests) while the
    ///     data streams out. The final header must have exactly the length of the first one (same keys and
    ///     types, strings of the same byte length); the file is renamed into place only with it.
    /// - Throws: `GGUFError` for invalid arguments (checked before the file is created, and for the final
    ///   metadata) or a wrong amount of produced data; `FileWriteError.overwriteLengthChanged` when the final
    ///   header's length differs; `FileWriteError` for I/O failures; anything `produce` or `finalizeMetadata`
    ///   throws. On error the destination is untouched and no temporary file remains.
    ///   - replaceExisting: when false, an existing file at `path` is refused (before writing, and atomically at the
    ///     commit) with `OutputSafetyError.outputExists`.
    ///
    /// Before the temporary file is created, temporary files of dead processes beside `path` are removed
    /// (`TemporaryPaths.removeStale`) and the file system is checked for room for the whole file.
    public static func write(
        path: String, metadata: GGUFMetadata, tensors: [OutputTensor], alignment: Int = 32,
        finalizeMetadata: (() throws -> GGUFMetadata)? = nil, replaceExisting: Bool = true
    ) throws {
        let header = try encodeHeader(path: path, metadata: metadata, tensors: tensors, alignment: alignment)
        try OutputSafety.checkReplaceable(output: path, force: replaceExisting, directoryOutput: false)
        let dataBytes = tensors.reduce(header.count) { total, tensor in
            let (sum, overflow) = total.addingReportingOverflow(tensor.byteCount &+ padding(tensor.byteCount, alignment))
            return overflow ? Int.max : sum
        }
        try OutputSafety.checkFreeSpace(bytes: dataBytes, for: path)
        TemporaryPaths.removeStale(in: TemporaryPaths.directory(of: path))
        let writer = try AtomicFileWriter(path: path, replaceExisting: replaceExisting)
        do {
            try writer.write(header)
            for tensor in tensors {
                let before = writer.bytesWritten
                try tensor.produce(writer)
                let written = writer.bytesWritten - before
                guard written == tensor.byteCount else {
                    throw GGUFError.producedWrongByteCount(
                        path: path, tensor: tensor.name, expected: tensor.byteCount, written: written)
                }
                try writer.writeZeros(padding(tensor.byteCount, alignment))
            }
            if let finalizeMetadata {
                let final = try encodeHeader(path: path, metadata: try finalizeMetadata(), tensors: tensors, alignment: alignment)
                try writer.overwrite(final, at: 0, replacing: header.count)
            }
            try writer.commit()
        } catch {
            writer.abandon()
            throw error
        }
    }

    /// Validates the arguments and encodes everything before the data section (including its padding when
    /// there are tensors).
    static func encodeHeader(path: String, metadata: GGUFMetadata, tensors: [OutputTensor], alignment: Int)
        throws(GGUFError) -> [UInt8]
    {
        guard alignment > 0, alignment & (alignment - 1) == 0, alignment <= Int(UInt32.max) else {
            throw .invalidAlignment(path: path, alignment: alignment)
        }
        var metadata = metadata
        if let value = metadata["general.alignment"] {
            guard case .uint32(let a) = value else { throw .alignmentNotUInt32(path: path, type: value.type) }
            guard Int(a) == alignment else {
                throw .alignmentMismatch(path: path, metadata: value, parameter: alignment)
            }
        } else if alignment != GGUFLimits.defaultAlignment {
            metadata["general.alignment"] = .uint32(UInt32(alignment))
        }

        var out = GGUFByteBuffer(path: path)
        out.bytes.append(contentsOf: [0x47, 0x47, 0x55, 0x46])  // "GGUF"
        out.append(UInt32(3))
        out.append(UInt64(tensors.count))
        out.append(UInt64(metadata.count))
        for (index, pair) in metadata.pairs.enumerated() {
            guard !pair.key.isEmpty else { throw .emptyKey(path: path, index: index, offset: out.bytes.count) }
            out.append(string: pair.key)
            out.append(pair.value.type.rawValue)
            try out.append(value: pair.value, key: pair.key, depth: 0)
        }

        var names = Set<String>()
        var offset = 0
        for tensor in tensors {
            let type = try validate(tensor, path: path, names: &names)
            out.append(string: tensor.name)
            out.append(UInt32(tensor.shape.count))
            for d in tensor.shape.reversed() { out.append(UInt64(d)) }
            out.append(type.rawValue)
            out.append(UInt64(offset))
            let (next, overflow) = offset.addingReportingOverflow(
                tensor.byteCount + padding(tensor.byteCount, alignment))
            guard !overflow else { throw .invalidShape(path: path, tensor: tensor.name, shape: tensor.shape) }
            offset = next
        }
        if !tensors.isEmpty {
            out.bytes.append(contentsOf: repeatElement(0, count: padding(out.bytes.count, alignment)))
        }
        return out.bytes
    }

    /// Checks one tensor's name, encoding, shape and byte count; returns its ggml type.
    private static func validate(_ tensor: OutputTensor, path: String, names: inout Set<String>)
        throws(GGUFError) -> GGMLType
    {
        let name = tensor.name
        let nameBytes = name.utf8.count
        guard nameBytes <= GGUFLimits.maximumTensorNameBytes else {
            throw .tensorNameTooLong(path: path, name: name, length: nameBytes)
        }
        guard names.insert(name).inserted else { throw .duplicateTensorName(path: path, name: name) }
        let type: GGMLType
        switch tensor.encoding {
        case .ggml(let t): type = t
        case .dense(let d):
            guard let t = GGMLType(dense: d) else {
                throw .unsupportedEncoding(path: path, tensor: name, encoding: tensor.encoding.description)
            }
            type = t
        }
        guard tensor.shape.count <= GGUFLimits.maximumDimensions else {
            throw .tooManyDimensions(path: path, tensor: name, count: tensor.shape.count)
        }
        var elements = 1
        for d in tensor.shape {
            guard d >= 0 else { throw .invalidShape(path: path, tensor: name, shape: tensor.shape) }
            let (p, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow else { throw .invalidShape(path: path, tensor: name, shape: tensor.shape) }
            elements = p
        }
        let ne0 = tensor.shape.last ?? 1
        guard ne0 % type.blockSize == 0 else {
            throw .blockSizeMismatch(path: path, tensor: name, type: type, ne0: ne0)
        }
        guard let expected = type.byteCount(elements: elements) else {
            throw .invalidShape(path: path, tensor: name, shape: tensor.shape)
        }
        guard tensor.byteCount == expected else {
            throw .byteCountMismatch(path: path, tensor: name, declared: tensor.byteCount, expected: expected)
        }
        return type
    }

    /// Zero bytes needed after `size` bytes to reach a multiple of `alignment`.
    static func padding(_ size: Int, _ alignment: Int) -> Int {
        (alignment - size % alignment) % alignment
    }
}

/// Little-endian encoder for the header part of a GGUF file.
private struct GGUFByteBuffer {
    let path: String
    var bytes: [UInt8] = []

    init(path: String) { self.path = path }

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(string: String) {
        append(UInt64(string.utf8.count))
        bytes.append(contentsOf: string.utf8)
    }

    /// Appends a value without its type id (the caller wrote it, or it is an array element).
    mutating func append(value: GGUFValue, key: String, depth: Int) throws(GGUFError) {
        switch value {
        case .uint8(let v): append(v)
        case .int8(let v): append(v)
        case .uint16(let v): append(v)
        case .int16(let v): append(v)
        case .uint32(let v): append(v)
        case .int32(let v): append(v)
        case .float32(let v): append(v.bitPattern)
        case .bool(let v): append(UInt8(v ? 1 : 0))
        case .string(let v): append(string: v)
        case .uint64(let v): append(v)
        case .int64(let v): append(v)
        case .float64(let v): append(v.bitPattern)
        case .array(let elementType, let elements):
            guard depth < GGUFLimits.maximumArrayDepth else {
                throw .arrayTooDeep(path: path, key: key, depth: depth + 1, offset: bytes.count)
            }
            append(elementType.rawValue)
            append(UInt64(elements.count))
            for element in elements {
                guard element.type == elementType else {
                    throw .arrayElementTypeMismatch(path: path, key: key, expected: elementType, found: element.type)
                }
                try append(value: element, key: key, depth: depth + 1)
            }
        }
    }
}
