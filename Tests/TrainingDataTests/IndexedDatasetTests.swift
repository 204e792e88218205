import Foundation
import TestSupport
import Testing

import TrainingData

/// The Megatron `MMIDIDX` files, byte for byte, and the reader's rejection of malformed ones.
@Suite("Megatron indexed dataset")
struct IndexedDatasetTests {
    /// Little-endian bytes of `value`.
    static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

    @Test("a uint16 dataset of sequences [5, 65535, 0], [], [7] has the bytes of Megatron's _IndexWriter")
    func exactBytes() throws {
        let tmp = TemporaryDirectory()
        let prefix = tmp.file("d")
        let writer = try IndexedDatasetWriter(prefix: prefix, dtype: .uint16)
        try writer.append([5, 65535, 0])
        try writer.append([])
        try writer.append([7])
        try writer.finish()
        // Header: magic, version 1, dtype code 8 (uint16), 3 sequences, 4 document indices.
        var expected: [UInt8] = Array("MMIDIDX".utf8) + [0, 0] + Self.le(UInt64(1)) + [8] + Self.le(UInt64(3)) + Self.le(UInt64(4))
        expected += [3, 0, 1].flatMap { Self.le(Int32($0)) }  // lengths
        expected += [0, 6, 6].flatMap { Self.le(Int64($0)) }  // byte pointers: 3 tokens × 2 bytes, then 0
        expected += [0, 1, 2, 3].flatMap { Self.le(Int64($0)) }  // document indices
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: prefix + ".idx"))) == expected)
        let bin: [UInt8] = [5, 0, 0xFF, 0xFF, 0, 0, 7, 0]
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: prefix + ".bin"))) == bin)
        let dataset = try IndexedDataset(prefix: prefix)
        #expect(dataset.dtype == .uint16 && dataset.count == 3 && dataset.tokenCount == 4)
        #expect(dataset.sequence(0) == [5, 65535, 0] && dataset.sequence(1) == [] && dataset.sequence(2) == [7])
        #expect(dataset.documentIndices == [0, 1, 2, 3])
    }

    @Test("int32 datasets keep ids above 65535")
    func int32() throws {
        let tmp = TemporaryDirectory()
        let writer = try IndexedDatasetWriter(prefix: tmp.file("d"), dtype: .int32)
        try writer.append([70_000, 1, 2_000_000_000])
        try writer.finish()
        let dataset = try IndexedDataset(prefix: tmp.file("d"))
        #expect(dataset.dtype == .int32 && dataset.pointers == [0])
        #expect(dataset.sequence(0) == [70_000, 1, 2_000_000_000])
        #expect(TokenDType.optimal(vocabularySize: 65_499) == .uint16)
        #expect(TokenDType.optimal(vocabularySize: 65_500) == .int32)
    }

    @Test("malformed index files are rejected with the file named", arguments: ["magic", "truncated", "bin-size", "version", "dtype"])
    func malformed(kind: String) throws {
        let tmp = TemporaryDirectory()
        let prefix = tmp.file("d")
        let writer = try IndexedDatasetWriter(prefix: prefix, dtype: .uint16)
        try writer.append([1, 2, 3])
        try writer.finish()
        var idx = Array(try Data(contentsOf: URL(fileURLWithPath: prefix + ".idx")))
        switch kind {
        case "magic": idx[0] = UInt8(ascii: "X")
        case "truncated": idx.removeLast(3)
        case "version": idx[9] = 2
        case "dtype": idx[17] = 7  // float32
        default: try Data([1, 0]).write(to: URL(fileURLWithPath: prefix + ".bin"))
        }
        try Data(idx).write(to: URL(fileURLWithPath: prefix + ".idx"))
        #expect {
            _ = try IndexedDataset(prefix: prefix)
        } throws: { error in
            guard case .invalidIndexedDataset(let path, _) = error as? TrainingDataError else { return false }
            return path.hasPrefix(prefix)
        }
    }
}
