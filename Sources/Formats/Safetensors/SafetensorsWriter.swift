import IOCore
import TensorCore

/// Writes safetensors files the way the reference writer does (`prepare()` in `safetensors/src/tensor.rs`), so
/// the same tensors and metadata give a byte-identical file.
public enum SafetensorsWriter {
    /// Streams tensors into one file atomically (`AtomicFileWriter`).
    ///
    /// The header has `__metadata__` first (omitted when `metadata` is empty), then the tensors sorted like the
    /// reference writer (dtype alignment descending — the reference `Dtype` order — then name by UTF-8 bytes),
    /// and is padded with spaces so its length is a multiple of 8. Data is written in that same order by calling
    /// each `OutputTensor.produce`, so only one tensor's data need exist at a time.
    ///
    /// - Parameters:
    ///   - path: destination; replaced atomically, untouched on failure.
    ///   - tensors: tensors to write; names must be unique and must not be `__metadata__`.
    ///   - metadata: `__metadata__` pairs in the order to write them (keys must be unique). Keep `format: pt`
    ///     for transformers.
    ///   - finalizeMetadata: when given, called once after all tensor data is written and before the commit; the
    ///     header is rebuilt from the metadata it returns and written over the first one (offset 8). This lets
    ///     `metadata` hold values still being computed (pending digests) while the data streams out. The final
    ///     header must have exactly the length of the first one; the file is renamed into place only with it.
    /// - Throws: `SafetensorsError` for a tensor named `__metadata__`, duplicate names or metadata keys, a
    ///   non-dense encoding (ggml block types; `.ggml(.f16)` and friends are normalised to dense), a negative
    ///   dimension, a `byteCount` that differs from shape × dtype, or a `produce` closure writing a different
    ///   byte count than declared; `FileWriteError.overwriteLengthChanged` when the final header's length
    ///   differs; `FileWriteError` for I/O failures; anything `produce` or `finalizeMetadata` throws.
    ///   - replaceExisting: when false, a file that exists at `path` when the new one is committed is kept and
    ///     `FileWriteError.commitFailed` is thrown.
    public static func write(
        path: String, tensors: [OutputTensor], metadata: [(key: String, value: String)] = [("format", "pt")],
        finalizeMetadata: (() throws -> [(key: String, value: String)])? = nil, replaceExisting: Bool = true
    ) throws {
        let plan = try layout(path: path, tensors: tensors, metadata: metadata)
        let writer = try AtomicFileWriter(path: path, replaceExisting: replaceExisting)
        do {
            try writer.writeLittleEndian(UInt64(plan.header.count))
            try writer.write(plan.header)
            for item in plan.order {
                let tensor = tensors[item]
                let before = writer.bytesWritten
                try tensor.produce(writer)
                let written = writer.bytesWritten - before
                guard written == tensor.byteCount else {
                    throw SafetensorsError.producedWrongByteCount(
                        path: path, tensor: tensor.name, declared: tensor.byteCount, written: written)
                }
            }
            if let finalizeMetadata {
                let final = try layout(path: path, tensors: tensors, metadata: try finalizeMetadata())
                try writer.overwrite(final.header, at: 8, replacing: plan.header.count)
            }
            try writer.commit()
        } catch {
            writer.abandon()
            throw error
        }
    }

    /// The header bytes (padded JSON, without the 8-byte length) and the order in which tensor data follows.
    struct Layout {
        let header: [UInt8]
        /// Indices into the input array, in file order.
        let order: [Int]
    }

    /// Validates `tensors` and builds the header the reference writer would produce.
    static func layout(
        path: String, tensors: [OutputTensor], metadata: [(key: String, value: String)]
    ) throws(SafetensorsError) -> Layout {
        var dtypes: [DType] = []
        dtypes.reserveCapacity(tensors.count)
        var seen = Set<String>()
        for tensor in tensors {
            guard tensor.name != "__metadata__" else { throw .reservedTensorName(path: path) }
            guard seen.insert(tensor.name).inserted else {
                throw .duplicateTensorName(path: path, tensor: tensor.name)
            }
            guard case .dense(let dtype) = tensor.encoding.normalized else {
                throw .unsupportedEncoding(path: path, tensor: tensor.name, encoding: tensor.encoding.description)
            }
            guard tensor.shape.allSatisfy({ $0 >= 0 }) else {
                throw .invalidShape(path: path, tensor: tensor.name, shape: tensor.shape)
            }
            guard let expected = SafetensorsHeader.byteCount(shape: tensor.shape, dtype: dtype) else {
                throw .sizeOverflow(path: path, tensor: tensor.name, shape: tensor.shape)
            }
            guard expected == tensor.byteCount else {
                throw .byteCountMismatch(path: path, tensor: tensor.name, declared: tensor.byteCount, expected: expected)
            }
            dtypes.append(dtype)
        }
        var keys = Set<String>()
        for pair in metadata where !keys.insert(pair.key).inserted {
            throw .duplicateMetadataKey(path: path, key: pair.key)
        }

        let names = tensors.map { Array($0.name.utf8) }
        let order = tensors.indices.sorted { a, b in
            let ra = SafetensorsDTypes.rank(dtypes[a])
            let rb = SafetensorsDTypes.rank(dtypes[b])
            if ra != rb { return ra > rb }
            return names[a].lexicographicallyPrecedes(names[b])
        }

        // serde_json compact output of the reference `HashMetadata`.
        var json = "{"
        var first = true
        if !metadata.isEmpty {
            json += "\"__metadata__\":{"
            json += metadata.map { JSONWriter.quote($0.key) + ":" + JSONWriter.quote($0.value) }.joined(separator: ",")
            json += "}"
            first = false
        }
        var offset = 0
        for i in order {
            let tensor = tensors[i]
            if !first { json += "," }
            first = false
            json += JSONWriter.quote(tensor.name)
            json += ":{\"dtype\":\"\(dtypes[i].rawValue)\",\"shape\":["
            json += tensor.shape.map(String.init).joined(separator: ",")
            // Sum of validated sizes; overflow would need more data than any address space holds.
            let (end, overflow) = offset.addingReportingOverflow(tensor.byteCount)
            guard !overflow else { throw .sizeOverflow(path: path, tensor: tensor.name, shape: tensor.shape) }
            json += "],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        json += "}"
        var header = Array(json.utf8)
        let padding = (8 - header.count % 8) % 8
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padding))
        guard header.count <= SafetensorsHeader.maximumHeaderLength else {
            throw .headerTooLarge(path: path, headerLength: UInt64(header.count))
        }
        return Layout(header: header, order: order)
    }
}
