import Foundation
import TestSupport
import Testing

@testable import Conversion
@testable import Formats

/// Handcrafted corrupt files, one per check in ggml's `gguf.cpp` (and llama.cpp's bounds check), in the style
/// of ggml's `tests/test-gguf.cpp` `HANDCRAFTED_*` cases. Each asserts the exact `GGUFError`.
@Suite("GGUF bad input")
struct GGUFBadInputTests {
    static let path = "bad.gguf"

    enum Case: String, CaseIterable, CustomTestStringConvertible {
        case emptyFile, shortMagic, shortVersion, shortCounts, badMagic, version0, version1, version4, bigEndian
        case tensorCountHuge, kvCountHuge, keyLengthBeyondFile, keyInvalidUTF8, emptyKey, duplicateKey
        case unknownValueType, unknownArrayElementType, truncatedValue, stringLengthBeyondFile
        case arrayCountBeyondFile, arrayOfU64BeyondFile, nestedArrayTooDeep
        case alignmentNotU32, alignmentNotPowerOfTwo, alignmentZero
        case tensorNameTooLong, tensorNameBeyondFile, duplicateTensorNames, nDims5, dimNegative, elementCountOverflow
        case byteSizeOverflow, tensorType4, tensorType31, tensorType99, q8_0Ne0Not32, offsetNotAligned
        case offsetsGap, offsetsOverlap, firstOffsetNotZero, dataBeyondEndOfFile, dataStartBeyondEndOfFile
        case truncatedTensorInfo

        var testDescription: String { rawValue }

        /// The bytes and the error they must produce.
        var example: (bytes: [UInt8], error: GGUFError) {
            let p = GGUFBadInputTests.path
            switch self {
            case .emptyFile:
                return ([], .emptyFile(path: p))
            case .shortMagic:
                return (Array("GGU".utf8), .truncated(path: p, field: "magic", offset: 0))
            case .shortVersion:
                return (Array("GGUF".utf8) + [3, 0], .truncated(path: p, field: "version", offset: 4))
            case .shortCounts:
                var b = GGUFBytes.header(tensors: 0, kvs: 0)
                b.bytes.removeLast(3)
                return (b.bytes, .truncated(path: p, field: "metadata_kv_count", offset: 16))
            case .badMagic:
                var b = GGUFBytes.header(tensors: 0, kvs: 0)
                b.bytes[3] = 0x47
                return (b.bytes, .badMagic(path: p, found: [0x47, 0x47, 0x55, 0x47]))
            case .version0, .version1, .version4:
                let v: UInt32 = self == .version0 ? 0 : self == .version1 ? 1 : 4
                return (
                    GGUFBytes.header(version: v, tensors: 0, kvs: 0).bytes, .unsupportedVersion(path: p, version: v)
                )
            case .bigEndian:
                // A big-endian v3 header: magic bytes unchanged, integers byte-swapped.
                var b = GGUFBytes()
                b.raw(Array("GGUF".utf8))
                b.raw([0, 0, 0, 3])
                b.raw([0, 0, 0, 0, 0, 0, 0, 0])
                b.raw([0, 0, 0, 0, 0, 0, 0, 1])
                b.raw([0, 0, 0, 0, 0, 0, 0, 4] + Array("abcd".utf8) + [0, 0, 0, 4, 7])
                return (b.bytes, .bigEndian(path: p))
            case .tensorCountHuge:
                var b = GGUFBytes.header(tensors: 1 << 40, kvs: 0)
                b.raw([UInt8](repeating: 0, count: 100))
                return (b.bytes, .tooManyTensors(path: p, count: 1 << 40, remainingBytes: 100))
            case .kvCountHuge:
                var b = GGUFBytes.header(tensors: 0, kvs: .max)
                b.kv("general.architecture", string: "llama")
                return (b.bytes, .tooManyKeyValues(path: p, count: .max, remainingBytes: 45))
            case .keyLengthBeyondFile:
                var b = GGUFBytes.header(tensors: 0, kvs: 1)
                b.u64(1000)
                b.raw(Array("general.architecture".utf8))
                return (b.bytes, .stringBeyondEnd(path: p, context: "key #0", length: 1000, offset: 24))
            case .keyInvalidUTF8:
                var b = GGUFBytes.header(tensors: 0, kvs: 1)
                b.u64(3)
                b.raw([0x61, 0xC3, 0x28])
                b.u32(GGUFValueType.uint8.rawValue)
                b.u8(1)
                return (b.bytes, .invalidUTF8(path: p, context: "key #0", offset: 32))
            case .emptyKey:
                var b = GGUFBytes.header(tensors: 0, kvs: 1)
                b.kv("", u32: 1)
                return (b.bytes, .emptyKey(path: p, index: 0, offset: 24))
            case .duplicateKey:
                var b = GGUFBytes.header(tensors: 0, kvs: 2)
                b.kv("general.name", string: "a")
                let second = b.count
                b.kv("general.name", string: "b")
                return (b.bytes, .duplicateKey(path: p, key: "general.name", offset: second))
            case .unknownValueType:
                var b = GGUFBytes.header(tensors: 0, kvs: 1)
                b.string("k")
                let at = b.count
                b.u32(13)
                b.u64(0)
                return (b.bytes, .unknownValueType(path: p, key: "k", typeID: 13, offset: at))
            case .unknownArrayElementType:
                var b = GGUFBytes.header(tensors: 0, kvs: 1)
                b.string("k")
                b.u32(GGUFValueType.array.rawValue)
                let at = b.count
                b.u32(0xFFFF_FFFF)
                b.u64(1)
                b.u64(0)
                return (b.bytes, .unknownValueType(path: p, key: "k", typeID: 0xFFFF_FFFF, offset: at))
            case .truncatedValue:
                var b = GGUFBytes.header(tensors: 0, kvs: 1)
                b.string("k")
                b.u32(GGUFValueType.uint64.rawValue)
                b.raw([1, 2, 3])
                return (b.bytes, .truncated(path: p, field: "the value of key 'k'", offset: 24 + 9 + 4))
            case .stringLengthBeyondFile:
                var b = GGUFBytes.header(tensors: 0, kvs: 1)
                b.string("general.name")
                b.u32(GGUFValueType.string.rawValue)
                let at = b.count
                b.u64(1 << 63)
                b.raw(Array("abc".utf8))
                return (b.bytes, .stringBeyondEnd(path: p, context: "key 'general.name'", length: 1 << 63, offset: at))
            case .arrayCountBeyondFile:
                var b = GGUFBytes.header(tensors: 0, kvs: 1)
                b.string("tokenizer.ggml.tokens")
                b.u32(GGUFValueType.array.rawValue)
                b.u32(GGUFValueType.string.rawValue)
                let at = b.count
                b.u64(0xFFFF_FFFF)
                b.string("a")
                b.string("b")
                return (
                    b.bytes,
                    .arrayBeyondEnd(
                        path: p, key: "tokenizer.ggml.tokens", count: 0xFFFF_FFFF, elementType: .string, offset: at)
                )
            case .arrayOfU64BeyondFile:
                // 4 elements of 8 bytes need 32 bytes; only 31 remain.
                var b = GGUFBytes.header(tensors: 0, kvs: 1)
                b.string("k")
                b.u32(GGUFValueType.array.rawValue)
                b.u32(GGUFValueType.uint64.rawValue)
                let at = b.count
                b.u64(4)
                b.raw([UInt8](repeating: 1, count: 31))
                return (b.bytes, .arrayBeyondEnd(path: p, key: "k", count: 4, elementType: .uint64, offset: at))
            case .nestedArrayTooDeep:
                var b = GGUFBytes.header(tensors: 0, kvs: 1)
                b.string("deep")
                b.u32(GGUFValueType.array.rawValue)
                for _ in 0..<GGUFLimits.maximumArrayDepth {
                    b.u32(GGUFValueType.array.rawValue)
                    b.u64(1)
                }
                let at = b.count
                b.u32(GGUFValueType.uint8.rawValue)
                b.u64(1)
                b.u8(0)
                return (
                    b.bytes, .arrayTooDeep(path: p, key: "deep", depth: GGUFLimits.maximumArrayDepth + 1, offset: at)
                )
            case .alignmentNotU32:
                var b = GGUFBytes.header(tensors: 0, kvs: 1)
                b.string("general.alignment")
                b.u32(GGUFValueType.uint64.rawValue)
                b.u64(64)
                return (b.bytes, .alignmentNotUInt32(path: p, type: .uint64))
            case .alignmentNotPowerOfTwo, .alignmentZero:
                let a: UInt32 = self == .alignmentZero ? 0 : 48
                var b = GGUFBytes.header(tensors: 0, kvs: 1)
                b.kv("general.alignment", u32: a)
                return (b.bytes, .invalidAlignment(path: p, alignment: Int(a)))
            case .tensorNameTooLong:
                let name = String(repeating: "n", count: 64)
                return (oneTensor(name: name), .tensorNameTooLong(path: p, name: name, length: 64))
            case .tensorNameBeyondFile:
                var b = GGUFBytes.header(tensors: 1, kvs: 0)
                b.u64(UInt64(Int64.max))
                b.raw([UInt8](repeating: 0x41, count: 40))
                return (
                    b.bytes,
                    .stringBeyondEnd(path: p, context: "tensor #0 name", length: UInt64(Int64.max), offset: 24)
                )
            case .duplicateTensorNames:
                var b = GGUFBytes.header(tensors: 2, kvs: 0)
                b.tensorInfo("w", dims: [8], type: 0, offset: 0)
                b.tensorInfo("w", dims: [8], type: 0, offset: 32)
                b.pad(to: 32)
                b.raw([UInt8](repeating: 0, count: 64))
                return (b.bytes, .duplicateTensorName(path: p, name: "w"))
            case .nDims5:
                return (oneTensor(dims: [1, 1, 1, 1, 1]), .tooManyDimensions(path: p, tensor: "t", count: 5))
            case .dimNegative:
                return (
                    oneTensor(dims: [4, 1 << 63]),
                    .negativeDimension(path: p, tensor: "t", index: 1, value: Int64.min)
                )
            case .elementCountOverflow:
                let dims: [UInt64] = [1 << 32, 1 << 32]
                return (oneTensor(dims: dims), .elementCountOverflow(path: p, tensor: "t", dimensions: dims))
            case .byteSizeOverflow:
                // 2^62 F32 elements fit in Int64, their 2^64 bytes do not.
                let dims: [UInt64] = [1 << 62]
                return (oneTensor(dims: dims), .elementCountOverflow(path: p, tensor: "t", dimensions: dims))
            case .tensorType4, .tensorType31, .tensorType99:
                let id: UInt32 = self == .tensorType4 ? 4 : self == .tensorType31 ? 31 : 99
                return (oneTensor(type: id), .unsupportedTensorType(path: p, tensor: "t", typeID: id))
            case .q8_0Ne0Not32:
                return (
                    oneTensor(dims: [33, 1], type: GGMLType.q8_0.rawValue),
                    .blockSizeMismatch(path: p, tensor: "t", type: .q8_0, ne0: 33)
                )
            case .offsetNotAligned:
                return (oneTensor(offset: 16), .misalignedOffset(path: p, tensor: "t", offset: 16, alignment: 32))
            case .offsetsGap, .offsetsOverlap:
                let second: UInt64 = self == .offsetsGap ? 64 : 0
                var b = GGUFBytes.header(tensors: 2, kvs: 0)
                b.tensorInfo("a", dims: [8], type: 0, offset: 0)
                b.tensorInfo("b", dims: [8], type: 0, offset: second)
                b.pad(to: 32)
                b.raw([UInt8](repeating: 0, count: 96))
                return (b.bytes, .unexpectedOffset(path: p, tensor: "b", offset: second, expected: 32))
            case .firstOffsetNotZero:
                return (oneTensor(offset: 32), .unexpectedOffset(path: p, tensor: "t", offset: 32, expected: 0))
            case .dataBeyondEndOfFile:
                // 1000 F32 values need 4000 bytes; the file has 16 after the data section start.
                var b = GGUFBytes.header(tensors: 1, kvs: 0)
                b.tensorInfo("t", dims: [1000], type: 0, offset: 0)
                b.pad(to: 32)
                let start = b.count
                b.raw([UInt8](repeating: 0, count: 16))
                return (
                    b.bytes,
                    .tensorDataOutOfBounds(path: p, tensor: "t", start: start, end: start + 4000, fileSize: start + 16)
                )
            case .dataStartBeyondEndOfFile:
                // A second tensor that would start after the end of the (unpadded) file.
                var b = GGUFBytes.header(tensors: 2, kvs: 0)
                b.tensorInfo("a", dims: [4], type: 0, offset: 0)
                b.tensorInfo("b", dims: [4], type: 0, offset: 32)
                b.pad(to: 32)
                let start = b.count
                b.raw([UInt8](repeating: 0, count: 16))
                return (
                    b.bytes,
                    .tensorDataOutOfBounds(
                        path: p, tensor: "b", start: start + 32, end: start + 48, fileSize: start + 16)
                )
            case .truncatedTensorInfo:
                var b = GGUFBytes.header(tensors: 1, kvs: 0)
                b.string("t")
                b.u32(2)
                b.u64(32)
                b.raw([1, 0, 0, 0, 0, 0, 0])  // 7 of ne[1]'s 8 bytes (28 bytes in all: the count check passes)
                return (b.bytes, .truncated(path: p, field: "ne[1] of tensor 't'", offset: 24 + 9 + 4 + 8))
            }
        }

        /// A file with one F32 (by default) tensor `t` followed by enough data.
        private func oneTensor(name: String = "t", dims: [UInt64] = [8], type: UInt32 = 0, offset: UInt64 = 0)
            -> [UInt8]
        {
            var b = GGUFBytes.header(tensors: 1, kvs: 0)
            b.tensorInfo(name, dims: dims, type: type, offset: offset)
            b.pad(to: 32)
            b.raw([UInt8](repeating: 0, count: 128))
            return b.bytes
        }
    }

    @Test("rejects corrupt input with the specific error", arguments: Case.allCases)
    func rejects(_ example: Case) {
        let (bytes, expected) = example.example
        #expect(throws: expected) { try parseGGUF(bytes, path: Self.path) }
    }

    @Test("the cases without the corruption parse (the builders are sound)")
    func controlCases() throws {
        var b = GGUFBytes.header(tensors: 2, kvs: 2)
        b.kv("general.architecture", string: "llama")
        b.kv("general.alignment", u32: 64)
        b.tensorInfo("a", dims: [8], type: 0, offset: 0)
        b.tensorInfo("b", dims: [32, 2], type: GGMLType.q8_0.rawValue, offset: 64)
        b.pad(to: 64)
        b.raw([UInt8](repeating: 0, count: 64 + 68))
        let layout = try parseGGUF(b.bytes)
        #expect(layout.alignment == 64)
        #expect(layout.tensorInfos.map(\.offset) == [0, 64])
        #expect(layout.dataOffset % 64 == 0)
    }
}

/// Counts in GGUF metadata that the file cannot hold are refused before anything is allocated from them (fuzzer
/// cases 1751, 1756: `llama.block_count` 536870914 in a 20-tensor file tried to allocate 3.8 GB).
@Suite("GGUF metadata counts against the file")
struct GGUFMetadataCountTests {
    @Test("a block count beyond the file's tensors names the file, the key, the bound and the value")
    func hugeBlockCount() throws {
        let tmp = TemporaryDirectory()
        try TinyLlama().writeHFDirectory(tmp.file("hf"))
        try ConversionTests.hfToGGUF(tmp.file("hf"), tmp.file("m.gguf"), type: .f32)
        let source = try GGUFFile(path: tmp.file("m.gguf"))
        let n = source.tensors.count
        for count: UInt32 in [536_870_914, UInt32(n + 1)] {
            var metadata = source.metadata
            metadata["llama.block_count"] = .uint32(count)
            let broken = tmp.file("blocks-\(count).gguf")
            try GGUFWriter.write(path: broken, metadata: metadata, tensors: source.tensors.map { OutputTensor(copying: $0) })
            let expected = ConversionError.invalidConfigValue(
                path: broken, field: "llama.block_count",
                expected: "a block count from 0 to \(n) (the checkpoint holds \(n) tensors)", found: "\(count)")
            #expect(throws: expected) { try ConversionTests.ggufToHF(broken, tmp.file("out-\(count)")) }
            #expect(!FileManager.default.fileExists(atPath: tmp.file("out-\(count)/config.json")))
        }
        // A count the file can hold but whose tensors are missing is the missing tensor, not the count.
        var metadata = source.metadata
        metadata["llama.block_count"] = .uint32(3)
        try GGUFWriter.write(path: tmp.file("three.gguf"), metadata: metadata, tensors: source.tensors.map { OutputTensor(copying: $0) })
        #expect(throws: ConversionError.self) { try ConversionTests.ggufToHF(tmp.file("three.gguf"), tmp.file("out-3")) }
    }

    @Test("a head count that does not divide the hidden size names the GGUF file and both values")
    func headCountNotDividing() throws {
        let tmp = TemporaryDirectory()
        try TinyLlama().writeHFDirectory(tmp.file("hf"))
        try ConversionTests.hfToGGUF(tmp.file("hf"), tmp.file("m.gguf"), type: .f32)
        let source = try GGUFFile(path: tmp.file("m.gguf"))
        var metadata = source.metadata
        metadata["llama.attention.head_count"] = .uint32(0)
        metadata["llama.rope.dimension_count"] = nil
        let broken = tmp.file("heads.gguf")
        try GGUFWriter.write(path: broken, metadata: metadata, tensors: source.tensors.map { OutputTensor(copying: $0) })
        do {
            try ConversionTests.ggufToHF(broken, tmp.file("out"))
            Issue.record("expected an error")
        } catch let error as RecipeError {
            guard case .invalidDimension(_, let file, _, _, let values, _) = error else {
                Issue.record("expected invalidDimension, got \(error)")
                return
            }
            #expect(file == broken)
            #expect(values.contains("num_attention_heads = 0"))
            #expect(error.description.hasPrefix(broken + ": "))
        }
    }
}
