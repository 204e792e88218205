import TensorCore

/// A Megatron-LM indexed dataset (`PREFIX.idx` + `PREFIX.bin`, layout in `IndexedDatasetWriter`), memory-mapped
/// and validated on open, as `_IndexReader` and `IndexedDataset` of `megatron/core/datasets/indexed_dataset.py`
/// read it.
public final class IndexedDataset: @unchecked Sendable {
    public let prefix: String
    public let dtype: TokenDType
    /// Token count of each sequence.
    public let lengths: [Int32]
    /// Byte offset of each sequence in `.bin`.
    public let pointers: [Int64]
    /// Document boundaries as sequence indices: 0, …, sequence count.
    public let documentIndices: [Int64]
    /// Tokens in all sequences.
    public let tokenCount: Int
    private let bin: MappedFile

    /// Number of sequences.
    public var count: Int { lengths.count }

    /// Opens and validates `prefix.idx` and `prefix.bin`.
    /// - Throws: `TrainingDataError.invalidIndexedDataset` naming the file and the inconsistency.
    public init(prefix: String) throws(TrainingDataError) {
        self.prefix = prefix
        let idxPath = prefix + ".idx", binPath = prefix + ".bin"
        let idx: MappedFile
        do {
            idx = try MappedFile(path: idxPath)
            bin = try MappedFile(path: binPath)
        } catch {
            throw .cannotRead(path: "\(prefix).{idx,bin}", reason: "\(error)")
        }
        let bytes = idx.bytes
        func fail(_ problem: String) -> TrainingDataError { .invalidIndexedDataset(path: idxPath, problem: problem) }
        guard bytes.count >= 34 else { throw fail("\(bytes.count) bytes is shorter than the 34-byte header") }
        guard Array(bytes[0..<9]) == IndexedDatasetWriter.magic else { throw fail("magic is not MMIDIDX\\0\\0") }
        func u64(_ offset: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
        guard u64(9) == 1 else { throw fail("version \(u64(9)), expected 1") }
        guard let dtype = TokenDType(code: bytes[17]) else {
            throw fail("dtype code \(bytes[17]) (moekit reads uint16 = 8 and int32 = 4)")
        }
        self.dtype = dtype
        let sequences = u64(18), documents = u64(26)
        let expected = 34 &+ 12 &* sequences &+ 8 &* documents
        guard sequences < 1 << 40, documents < 1 << 40, expected == UInt64(bytes.count) else {
            throw fail("\(sequences) sequences and \(documents) document indices need \(expected) bytes, the file has \(bytes.count)")
        }
        let s = Int(sequences), d = Int(documents)
        var offset = 34
        lengths = (0..<s).map { Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 4 * $0, as: Int32.self)) }
        offset += 4 * s
        pointers = (0..<s).map { Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 8 * $0, as: Int64.self)) }
        offset += 8 * s
        documentIndices = (0..<d).map { Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 8 * $0, as: Int64.self)) }
        var expectedPointer: Int64 = 0
        var tokens = 0
        for i in 0..<s {
            guard lengths[i] >= 0 else { throw fail("sequence \(i) has negative length \(lengths[i])") }
            guard pointers[i] == expectedPointer else {
                throw fail("sequence \(i) starts at byte \(pointers[i]), expected \(expectedPointer) (sequences must be contiguous)")
            }
            expectedPointer += Int64(lengths[i]) * Int64(dtype.size)
            tokens += Int(lengths[i])
        }
        tokenCount = tokens
        guard expectedPointer == Int64(bin.count) else {
            throw .invalidIndexedDataset(path: binPath, problem: "holds \(bin.count) bytes, the index describes \(expectedPointer)")
        }
        guard documentIndices.first == 0, documentIndices.last == Int64(s),
            zip(documentIndices, documentIndices.dropFirst()).allSatisfy({ $0 <= $1 })
        else { throw fail("document indices must rise from 0 to the sequence count \(s)") }
    }

    /// Copies `count` token ids of sequence `index`, starting at token `offset`, into `destination`.
    @inline(__always)
    public func copyTokens(sequence index: Int, offset: Int, count: Int, into destination: UnsafeMutablePointer<Int32>) {
        precondition(offset >= 0 && count >= 0 && offset + count <= Int(lengths[index]), "token range outside sequence \(index)")
        let start = Int(pointers[index]) + offset * dtype.size
        switch dtype {
        case .uint16:
            let source = (bin.bytes.baseAddress! + start).assumingMemoryBound(to: UInt16.self)
            for i in 0..<count { destination[i] = Int32(UInt16(littleEndian: source[i])) }
        case .int32:
            let source = (bin.bytes.baseAddress! + start).assumingMemoryBound(to: Int32.self)
            for i in 0..<count { destination[i] = Int32(littleEndian: source[i]) }
        }
    }

    /// The token ids of sequence `index`.
    public func sequence(_ index: Int) -> [Int32] {
        let n = Int(lengths[index])
        return [Int32](unsafeUninitializedCapacity: n) { buffer, initialized in
            if n > 0 { copyTokens(sequence: index, offset: 0, count: n, into: buffer.baseAddress!) }
            initialized = n
        }
    }
}
