/// Writes one Megatron-LM indexed dataset: `PREFIX.bin` (the token ids of every sequence back to back) and
/// `PREFIX.idx` in the `MMIDIDX` layout of `_IndexWriter` in `megatron/core/datasets/indexed_dataset.py`:
///
/// | bytes | content |
/// |---|---|
/// | 9 | magic `MMIDIDX\0\0` |
/// | 8 | version, u64 little-endian = 1 |
/// | 1 | dtype code (`TokenDType`) |
/// | 8 | sequence count S, u64 |
/// | 8 | document-index count D, u64 (= documents + 1) |
/// | 4·S | sequence lengths, int32 (tokens) |
/// | 8·S | sequence pointers, int64 (byte offsets into `.bin`) |
/// | 8·D | document indices, int64: 0, then the sequence index after each document |
///
/// moekit writes one sequence per document, so the document indices are 0, 1, …, S (what Megatron's
/// `IndexedDatasetBuilder.add_document` produces for single-sequence documents). NeMo and GPT-NeoX read the same files.
public final class IndexedDatasetWriter {
    /// Path prefix (without `.bin` / `.idx`).
    public let prefix: String
    public let dtype: TokenDType
    private let bin: DataFileWriter
    private var lengths: [Int32] = []
    /// Tokens written so far.
    public private(set) var tokenCount = 0
    /// Sequences (documents) written so far.
    public var documentCount: Int { lengths.count }
    private var scratch = UnsafeMutableBufferPointer<UInt16>.allocate(capacity: 1 << 16)

    /// Magic bytes of `_INDEX_HEADER`.
    public static let magic: [UInt8] = Array("MMIDIDX".utf8) + [0, 0]

    /// Creates `prefix.bin`. The files are meant for a directory that is made visible atomically as a whole
    /// (`DataPreparation` writes into a temporary directory); they are not fsynced one by one.
    public init(prefix: String, dtype: TokenDType) throws(TrainingDataError) {
        self.prefix = prefix
        self.dtype = dtype
        bin = try DataFileWriter(path: prefix + ".bin")
    }

    /// Appends one document's token ids as one sequence.
    public func append(_ ids: UnsafeBufferPointer<Int32>) throws(TrainingDataError) {
        guard ids.count <= Int(Int32.max) else {
            throw .writeFailed(path: prefix + ".bin", reason: "a document of \(ids.count) tokens exceeds int32 sequence lengths")
        }
        try writeTokens(ids)
        lengths.append(Int32(ids.count))
        tokenCount += ids.count
    }

    private func writeTokens(_ ids: UnsafeBufferPointer<Int32>) throws(TrainingDataError) {
        switch dtype {
        case .int32:
            try bin.write(UnsafeRawBufferPointer(ids))
        case .uint16:
            let count = ids.count
            if scratch.count < count {
                scratch.deallocate()
                scratch = .allocate(capacity: max(count, 2 * scratch.count))
            }
            for i in 0..<count { scratch[i] = UInt16(truncatingIfNeeded: ids[i]).littleEndian }
            try bin.write(UnsafeRawBufferPointer(start: scratch.baseAddress, count: 2 * count))
        }
    }

    /// Appends one document given as an array.
    public func append(_ ids: [Int32]) throws(TrainingDataError) {
        let result: Result<Void, TrainingDataError> = ids.withUnsafeBufferPointer { buffer in
            do throws(TrainingDataError) { try append(buffer); return .success(()) } catch { return .failure(error) }
        }
        try result.get()
    }

    deinit { scratch.deallocate() }

    /// Commits `.bin` and writes `.idx`.
    public func finish() throws(TrainingDataError) {
        try bin.finish()
        let idx = try DataFileWriter(path: prefix + ".idx")
        var bytes: [UInt8] = Self.magic
        bytes.reserveCapacity(34 + lengths.count * 20 + 8)
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        put(UInt64(1))
        bytes.append(dtype.rawValue)
        put(UInt64(lengths.count))
        put(UInt64(lengths.count + 1))
        for length in lengths { put(length) }
        var pointer: Int64 = 0
        for length in lengths {
            put(pointer)
            pointer += Int64(length) * Int64(dtype.size)
        }
        for index in 0...lengths.count { put(Int64(index)) }
        try idx.write(bytes)
        try idx.finish()
    }

}
