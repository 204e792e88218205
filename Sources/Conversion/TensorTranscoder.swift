import Formats
import IOCore
import TensorCore

#if canImport(Glibc)
import Glibc
#endif

/// Streams one stored tensor into a writer, converting its encoding and/or reordering its rows on the way.
///
/// Work is done in row chunks of at most ~1 MiB of output, so converting a multi-gigabyte tensor needs only a
/// few megabytes of scratch memory. When nothing changes the bytes are copied straight from the memory map.
public struct TensorTranscoder {
    /// The tensor to read.
    public let source: TensorView
    /// The output encoding.
    public let target: TensorEncoding
    /// Row permutation and its direction, for RoPE Q/K tensors.
    public let permutation: (RopeRowPermutation, RopeRowPermutation.Direction)?

    public init(source: TensorView, target: TensorEncoding, permutation: (RopeRowPermutation, RopeRowPermutation.Direction)? = nil) {
        self.source = source
        self.target = target
        self.permutation = permutation
    }

    /// Rows are the outermost dimension (1 for scalars).
    var rows: Int { source.shape.first.map { max($0, 0) } ?? 1 }
    var columns: Int { rows == 0 ? 0 : source.elementCount / rows }

    /// Output bytes, or nil when the target cannot hold this shape (row length not a multiple of its block).
    public var outputByteCount: Int? {
        guard let rowBytes = target.byteCount(elements: columns) else { return nil }
        return rowBytes * rows
    }

    /// Whether a target encoding can be produced at all.
    public var isSupported: Bool {
        if outputByteCount == nil { return false }
        if source.encoding.normalized == target.normalized { return true }
        switch source.encoding.normalized {
        case .ggml(let t) where !t.canDequantize: return false
        case .dense(let d) where !d.isFloatingPoint: return false
        default: break
        }
        switch target.normalized {
        case .dense(let d): return d.isFloatingPoint
        case .ggml(let t): return t.canQuantize
        }
    }

    /// An `OutputTensor` named `name` that streams this conversion. After writing, the source pages are released
    /// when `source.owner` is a `MappedFile`.
    public func outputTensor(name: String, shape: [Int]? = nil) throws(ConversionError) -> OutputTensor {
        guard isSupported, let byteCount = outputByteCount else {
            throw .unsupportedOutputType(
                tensor: source.name, type: target.description,
                reason: "source \(source.encoding) with rows of \(columns) values cannot be converted")
        }
        let transcoder = self
        return OutputTensor(name: name, shape: shape ?? source.shape, encoding: target, byteCount: byteCount) { writer in
            try transcoder.write(into: writer)
            transcoder.source.dropPages()
        }
    }

    /// Decodes the tensor to `Float` with the permutation applied (the target encoding is ignored).
    public func floats() throws -> [Float] {
        var values = try source.floats()
        guard let (perm, direction) = permutation, rows > 0 else { return values }
        let bytes = values.count * 4
        let permuted = OwnedBytes(count: bytes)
        values.withUnsafeBytes { perm.apply(direction, source: $0, destination: UnsafeMutableRawBufferPointer(rebasing: permuted.buffer[0..<bytes])) }
        values.withUnsafeMutableBytes { $0.copyMemory(from: permuted.view(count: bytes)) }
        return values
    }

    /// Streams the converted bytes into `writer`.
    public func write(into writer: AtomicFileWriter) throws {
        let sameEncoding = source.encoding.normalized == target.normalized
        if sameEncoding && permutation == nil {
            if let file = source.owner as? MappedFile, source.bytes.count >= 1 << 16 {
                try writer.copy(fromDescriptor: file.descriptor, offset: source.fileOffset, count: source.bytes.count)
            } else {
                try writer.write(source.bytes)
            }
            return
        }
        if let file = source.owner as? MappedFile {
            file.adviseSequential(source.fileOffset..<(source.fileOffset + source.bytes.count))
        }
        let rowMap: [Int]? = permutation.map { (perm, direction) in
            let forward = perm.hfRowForGGUFRow()
            switch direction {
            case .hfToGGUF: return forward
            case .ggufToHF:
                var inverse = [Int](repeating: 0, count: forward.count)
                for (ggufRow, hfRow) in forward.enumerated() { inverse[hfRow] = ggufRow }
                return inverse
            }
        }
        guard let sourceRowBytes = source.encoding.byteCount(elements: columns),
            let targetRowBytes = target.byteCount(elements: columns), rows > 0, targetRowBytes > 0
        else {
            try writer.write(source.bytes)
            return
        }
        if sameEncoding, let rowMap, let (perm, _) = permutation, let file = source.owner as? MappedFile {
            try writePermutedByHead(rowMap: rowMap, heads: perm.heads, rowBytes: sourceRowBytes, file: file, into: writer)
            return
        }
        let base = source.bytes.baseAddress!
        let rowsPerChunk = max(1, min(rows, (1 << 20) / targetRowBytes))
        var floats = [Float](repeating: 0, count: sameEncoding ? 0 : rowsPerChunk * columns)
        var output = [UInt8](repeating: 0, count: rowsPerChunk * targetRowBytes)
        var start = 0
        while start < rows {
            let count = min(rowsPerChunk, rows - start)
            try output.withUnsafeMutableBytes { out in
                let dst = out.baseAddress!
                if sameEncoding {
                    for r in 0..<count {
                        let from = rowMap?[start + r] ?? (start + r)
                        (dst + r * targetRowBytes).copyMemory(from: base + from * sourceRowBytes, byteCount: targetRowBytes)
                    }
                } else {
                    try floats.withUnsafeMutableBufferPointer { buffer in
                        let scratch = buffer.baseAddress!
                        for r in 0..<count {
                            let from = rowMap?[start + r] ?? (start + r)
                            let rowView = TensorView(
                                name: source.name, shape: [columns], encoding: source.encoding,
                                bytes: UnsafeRawBufferPointer(start: base + from * sourceRowBytes, count: sourceRowBytes),
                                owner: source.owner)
                            try rowView.decode(into: scratch + r * columns)
                        }
                        switch target.normalized {
                        case .dense(let d): DenseCodec.encode(d, from: scratch, into: dst, count: count * columns)
                        case .ggml(let t): GGMLCodec.quantize(t, from: scratch, into: dst, count: count * columns)
                        }
                    }
                }
                try writer.write(UnsafeRawBufferPointer(start: dst, count: count * targetRowBytes))
            }
            start += count
        }
    }

    /// Reorders rows head by head with `pread` (one head's rows in memory at a time) instead of faulting pages of the
    /// memory map in: the RoPE permutation never moves a row out of its head.
    private func writePermutedByHead(
        rowMap: [Int], heads: Int, rowBytes: Int, file: MappedFile, into writer: AtomicFileWriter
    ) throws {
        let rowsPerHead = rows / heads
        let headBytes = rowsPerHead * rowBytes
        var input = [UInt8](repeating: 0, count: headBytes)
        var output = [UInt8](repeating: 0, count: headBytes)
        for head in 0..<heads {
            let firstRow = head * rowsPerHead
            try input.withUnsafeMutableBytes { buffer in
                var done = 0
                while done < headBytes {
                    let n = pread(file.descriptor, buffer.baseAddress! + done, headBytes - done, off_t(source.fileOffset + firstRow * rowBytes + done))
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else {
                        throw FileWriteError.writeFailed(path: file.path, reason: "cannot read tensor '\(source.name)'")
                    }
                    done += n
                }
            }
            input.withUnsafeBytes { src in
                output.withUnsafeMutableBytes { dst in
                    for r in 0..<rowsPerHead {
                        let from = rowMap[firstRow + r] - firstRow
                        (dst.baseAddress! + r * rowBytes).copyMemory(from: src.baseAddress! + from * rowBytes, byteCount: rowBytes)
                    }
                }
            }
            try writer.write(output)
        }
    }
}
