import Foundation
import TensorCore
import Testing
import TestSupport

@testable import Formats
@testable import IOCore

@Suite("GGUF reader")
struct GGUFReaderTests {
    /// The GGUF layout of ggml `docs/gguf.md`: header + one KV general.architecture = "llama", no tensors = 69 bytes.
    static var workedVector: [UInt8] {
        var b = GGUFBytes.header(tensors: 0, kvs: 1)
        b.kv("general.architecture", string: "llama")
        return b.bytes
    }

    @Test("the 69-byte worked vector parses, from memory and from disk")
    func workedVector() throws {
        let bytes = Self.workedVector
        #expect(bytes.count == 69)
        let layout = try parseGGUF(bytes)
        #expect(layout.version == 3)
        #expect(layout.metadata.keys == ["general.architecture"])
        #expect(layout.metadata["general.architecture"] == .string("llama"))
        #expect(layout.alignment == 32)
        #expect(layout.dataOffset == 96)
        #expect(layout.tensorInfos.isEmpty)

        let dir = TemporaryDirectory()
        let path = dir.file("vector.gguf")
        try AtomicFileWriter.write(bytes, to: path)
        let file = try GGUFFile(path: path)
        #expect(file.architecture == "llama")
        #expect(file.tensors.isEmpty)
        #expect(file.mappedFile.count == 69)
    }

    @Test("reads the gguf-py fixture: every key, value, type, tensor shape, type, offset and byte")
    func readsGGUFPyFixture() throws {
        let path = GGUFTestFiles.fixtures + "/tiny.gguf"
        let file = try GGUFFile(path: path)
        let manifest = try JSONParser.parse(GGUFTestFiles.read(GGUFTestFiles.fixtures + "/tiny.json"))
        #expect(file.version == 3)
        #expect(file.alignment == 32)
        #expect(Int(manifest["size"]?.intValue ?? -1) == file.mappedFile.count)

        // Key order and type ids as gguf-py's reader sees them.
        let keys = try #require(manifest["keys"]?.arrayValue)
        #expect(file.metadata.keys == keys.compactMap { $0["key"]?.stringValue })
        for entry in keys {
            let key = try #require(entry["key"]?.stringValue)
            #expect(file.metadata[key]?.type.rawValue == UInt32(entry["type"]?.intValue ?? -1), "\(key)")
        }

        let expected: [(String, GGUFValue)] = [
            ("general.architecture", .string("tiny")),
            ("test.u8", .uint8(200)), ("test.i8", .int8(-100)), ("test.u16", .uint16(60000)),
            ("test.i16", .int16(-30000)), ("test.u32", .uint32(4_000_000_000)), ("test.i32", .int32(-2_000_000_000)),
            ("test.f32", .float32(3.25)), ("test.bool", .bool(true)), ("test.string", .string("héllo wörld ✓")),
            ("test.u64", .uint64(1 << 63 + 5)), ("test.i64", .int64(-(1 << 62))), ("test.f64", .float64(0.1)),
            ("test.array.strings", .array(strings: ["a", "bc", "", "日本"])),
            ("test.array.i32", .array(int32s: [1, -2, Int32.max])),
            ("test.array.f32", .array(float32s: [0.5, -1.25, Float(0.001 as Double)])),
            ("test.array.bool", .array(.bool, [.bool(true), .bool(false), .bool(true)])),
            (
                "test.array.nested",
                .array(.array, [.array(int32s: [1, 2]), .array(int32s: [3])])
            ),
        ]
        #expect(file.metadata == GGUFMetadata(expected))
        #expect(file.metadata["test.array.strings"]?.stringArray == ["a", "bc", "", "日本"])
        #expect(file.metadata["test.array.i32"]?.int32Array == [1, -2, Int32.max])
        #expect(file.metadata["test.u16"]?.intValue == 60000)
        #expect(file.metadata["test.u64"]?.intValue == nil)  // above Int.max
        #expect(file.metadata["test.f32"]?.doubleValue == 3.25)

        // Tensors: infos, views and bytes against gguf-py's reader.
        let tensors = try #require(manifest["tensors"]?.arrayValue)
        #expect(file.tensorInfos.map(\.name) == tensors.compactMap { $0["name"]?.stringValue })
        for (info, entry) in zip(file.tensorInfos, tensors) {
            #expect(info.dimensions == (entry["ne"]?.arrayValue ?? []).compactMap { $0.intValue.map(Int.init) })
            #expect(info.type.rawValue == UInt32(entry["type"]?.intValue ?? -1))
            #expect(file.dataOffset + info.offset == Int(entry["offset"]?.intValue ?? -1))
            let view = try #require(file.tensor(named: info.name))
            #expect(view.shape == info.dimensions.reversed())
            #expect(view.encoding == .ggml(info.type))
            #expect(view.fileOffset == file.dataOffset + info.offset)
            #expect(hex(view.bytes) == entry["hex"]?.stringValue, "\(info.name)")
        }
        #expect(file.tensorInfos.map(\.type) == [.f32, .f16, .q8_0, .bf16, .f32])
        #expect(file.tensor(named: "f32.weight")?.shape == [2, 3])
        #expect(try file.tensor(named: "f32.weight")?.floats() == [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])
        #expect(file.tensor(named: "q8_0.weight")?.shape == [2, 64])
        #expect(file.tensor(named: "q8_0.weight")?.bytes.count == 2 * 2 * 34)
        #expect(file.tensor(named: "blk.0.three_d")?.shape == [2, 3, 4])
        #expect(file.tensorInfo(named: "blk.0.three_d")?.dimensions == [4, 3, 2])
        #expect(try file.tensor(named: "blk.0.three_d")?.floats() == (0..<24).map { Float($0) / 8 })
        #expect(file.tensor(named: "missing") == nil)
    }

    @Test("accepts version 2, a missing last-tensor padding, zero-dim tensors and empty tensors")
    func acceptsEdgeCases() throws {
        var v2 = GGUFBytes.header(version: 2, tensors: 0, kvs: 1)
        v2.kv("general.architecture", string: "llama")
        #expect(try parseGGUF(v2.bytes).version == 2)

        // Two tensors: a scalar F32 (n_dims 0 → 1 element) and an F16 [3] whose padding is cut off.
        var b = GGUFBytes.header(tensors: 3, kvs: 0)
        b.tensorInfo("scalar", dims: [], type: 0, offset: 0)
        b.tensorInfo("empty", dims: [0, 7], type: 8, offset: 32)  // Q8_0 with no rows: 0 bytes
        b.tensorInfo("h", dims: [3], type: 1, offset: 32)
        b.pad(to: 32)
        let dataOffset = b.count
        b.raw([0, 0, 0x80, 0x3F])  // 1.0
        b.pad(to: 32)
        b.raw([0x00, 0x3C, 0x00, 0x40, 0x00, 0xC0])  // 1, 2, -2 as f16, no trailing padding
        let layout = try parseGGUF(b.bytes)
        #expect(layout.dataOffset == dataOffset)
        #expect(layout.tensorInfos.map(\.byteCount) == [4, 0, 6])
        let views = b.bytes.withUnsafeBytes { raw in layout.tensorViews(in: raw, owner: OwnedBytes(count: 0)) }
        #expect(views.map(\.shape) == [[], [7, 0], [3]])
        let decoded = try b.bytes.withUnsafeBytes { raw in
            try layout.tensorViews(in: raw, owner: OwnedBytes(count: 0)).map { try $0.floats() }
        }
        #expect(decoded == [[1], [], [1, 2, -2]])
    }

    @Test("reads known types moekit cannot decode (IQ2_XXS); only decoding them throws")
    func readsNonDequantizableTypes() throws {
        var b = GGUFBytes.header(tensors: 1, kvs: 0)
        b.tensorInfo("iq", dims: [256, 1], type: GGMLType.iq2_xxs.rawValue, offset: 0)
        b.pad(to: 32)
        b.raw(GGUFTestFiles.randomBytes(66, seed: 7))
        let dir = TemporaryDirectory()
        let path = dir.file("iq.gguf")
        try AtomicFileWriter.write(b.bytes, to: path)
        let file = try GGUFFile(path: path)
        let view = try #require(file.tensor(named: "iq"))
        #expect(view.encoding == .ggml(.iq2_xxs))
        #expect(view.bytes.count == 66)
        #expect(throws: TensorDataError.unsupportedType(tensor: "iq", type: "IQ2_XXS")) { try view.floats() }
    }

    @Test("a missing file is a MappedFileError; an empty one a GGUFError")
    func openFailures() throws {
        let dir = TemporaryDirectory()
        #expect(throws: MappedFileError.self) { try GGUFFile(path: dir.file("nope.gguf")) }
        let empty = dir.file("empty.gguf")
        try AtomicFileWriter.write([], to: empty)
        #expect(throws: GGUFError.emptyFile(path: empty)) { try GGUFFile(path: empty) }
    }

    @Test("error descriptions start with the path and name the key")
    func errorDescriptions() {
        let e = GGUFError.arrayBeyondEnd(
            path: "model.gguf", key: "tokenizer.ggml.tokens", count: 4_294_967_295, elementType: .string, offset: 1234)
        #expect(
            e.description
                == "model.gguf: key 'tokenizer.ggml.tokens': array of 4294967295 strings extends beyond the end of the file (at byte 1234)"
        )
        #expect(GGUFError.bigEndian(path: "m.gguf").description.hasPrefix("m.gguf: big-endian GGUF not supported"))
        #expect(
            GGUFError.unexpectedOffset(path: "m.gguf", tensor: "t", offset: 64, expected: 32).description
                == "m.gguf: tensor 't' has offset 64, expected 32")
    }

    // MARK: Real model

    @Test("reads SmolLM2-135M-Instruct Q4_1 (llama.cpp-made)", .requiresSmolLM2)
    func readsSmolLM2() throws {
        let path = try TestModels.requireSmolLM2()
        let file = try GGUFFile(path: path)
        #expect(file.architecture == "llama")
        #expect(file.tensors.count == 272)
        #expect(file.metadata.count == 33)
        #expect(file.metadata["llama.block_count"] == .uint32(30))
        #expect(file.metadata["tokenizer.ggml.tokens"]?.stringArray?.count == 49152)
        let embedding = try #require(file.tensor(named: "token_embd.weight"))
        #expect(embedding.encoding == .ggml(.q8_0))
        #expect(embedding.shape == [49152, 576])
        var counts: [GGMLType: Int] = [:]
        for info in file.tensorInfos { counts[info.type, default: 0] += 1 }
        #expect(counts == [.q4_1: 210, .f32: 61, .q8_0: 1])
        #expect(file.dataOffset % file.alignment == 0)
        // Decode a norm and a quantized tensor as a smoke test.
        let norm = try #require(file.tensor(named: "output_norm.weight"))
        #expect(try norm.floats().allSatisfy(\.isFinite))
        let q = try #require(file.tensorInfos.first { $0.type == .q4_1 })
        #expect(try file.tensor(named: q.name)!.floats().allSatisfy(\.isFinite))
    }
}

/// Lower-case hex of a byte buffer.
func hex(_ bytes: UnsafeRawBufferPointer) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}
