import Foundation
import Testing
import TestSupport

@testable import Formats
@testable import IOCore

@Suite("GGUF writer")
struct GGUFWriterTests {
    /// Tensors covering the dense and quantized encodings the writer must handle.
    static func sampleTensors() throws -> [OutputTensor] {
        let f32: [Float] = [1, -2, 3.5, 0, 1e-8, -7]
        let f16 = (0..<32).map { Float($0) * 0.25 - 4 }
        let bf16 = (0..<12).map { Float($0) * 1.5e10 - 3e10 }
        let q8 = (0..<128).map { sin(Float($0) * 0.37) * 3 }
        let experts = (0..<(2 * 3 * 32)).map { Float($0) / 64 }
        return [
            GGUFTestFiles.output(
                "f32", shape: [2, 3], .dense(.f32), bytes: try GGUFTestFiles.encoded(f32, .dense(.f32), shape: [2, 3])),
            GGUFTestFiles.output(
                "f16", shape: [4, 8], .ggml(.f16), bytes: try GGUFTestFiles.encoded(f16, .dense(.f16), shape: [4, 8])),
            GGUFTestFiles.output(
                "bf16", shape: [3, 4], .dense(.bf16),
                bytes: try GGUFTestFiles.encoded(bf16, .dense(.bf16), shape: [3, 4])),
            GGUFTestFiles.output("i32", shape: [5], .dense(.i32), bytes: GGUFTestFiles.randomBytes(20, seed: 3)),
            GGUFTestFiles.output(
                "q8_0", shape: [2, 64], .ggml(.q8_0),
                bytes: try GGUFTestFiles.encoded(q8, .ggml(.q8_0), shape: [2, 64])),
            GGUFTestFiles.output(
                "blk.0.ffn_up_exps.weight", shape: [2, 3, 32], .dense(.f32),
                bytes: try GGUFTestFiles.encoded(experts, .dense(.f32), shape: [2, 3, 32])),
        ]
    }

    @Test("writes exactly the 69-byte worked vector")
    func writesWorkedVector() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("v.gguf")
        try GGUFWriter.write(
            path: path, metadata: GGUFMetadata([("general.architecture", .string("llama"))]), tensors: [])
        #expect(GGUFTestFiles.read(path) == GGUFReaderTests.workedVector)
    }

    @Test("round trip: every KV type and F32/F16/BF16/I32/Q8_0/3-D tensors", arguments: [32, 64])
    func roundTrip(alignment: Int) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("rt.gguf")
        let tensors =
            try Self.sampleTensors() + [
                GGUFTestFiles.output("scalar", shape: [], .dense(.f32), bytes: [0, 0, 128, 63])
            ]
        let metadata = GGUFTestFiles.everyTypeMetadata
        try GGUFWriter.write(path: path, metadata: metadata, tensors: tensors, alignment: alignment)

        let file = try GGUFFile(path: path)
        var expected = metadata
        if alignment != 32 { expected["general.alignment"] = .uint32(UInt32(alignment)) }
        #expect(file.metadata == expected)
        #expect(file.metadata.keys.last == (alignment == 32 ? "test.array.nested" : "general.alignment"))
        #expect(file.alignment == alignment)
        #expect(file.dataOffset % alignment == 0)
        #expect(file.mappedFile.count % alignment == 0)  // every tensor padded, the last one too
        #expect(file.tensors.map(\.name) == tensors.map(\.name))
        var offset = 0
        for (view, source) in zip(file.tensors, tensors) {
            #expect(view.shape == source.shape)
            #expect(view.encoding.normalized == source.encoding.normalized)
            #expect(view.fileOffset == file.dataOffset + offset)
            var sourceBytes: [UInt8] = []
            let scratch = dir.file("scratch-\(source.name)")
            let w = try AtomicFileWriter(path: scratch)
            try source.produce(w)
            try w.commit()
            sourceBytes = GGUFTestFiles.read(scratch)
            #expect(Array(view.bytes) == sourceBytes, "\(source.name)")
            offset += (source.byteCount + alignment - 1) / alignment * alignment
        }
        #expect(file.tensorInfo(named: "blk.0.ffn_up_exps.weight")?.dimensions == [32, 3, 2])
        #expect(file.tensorInfo(named: "scalar")?.dimensions == [])
        #expect(try file.tensor(named: "f32")?.floats() == [1, -2, 3.5, 0, 1e-8, -7])
    }

    @Test("keeps a caller's general.alignment (in place) even when it is the default")
    func keepsCallerAlignment() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("a.gguf")
        let metadata = GGUFMetadata([("general.alignment", .uint32(32)), ("general.architecture", .string("llama"))])
        try GGUFWriter.write(path: path, metadata: metadata, tensors: try Self.sampleTensors())
        let file = try GGUFFile(path: path)
        #expect(file.metadata == metadata)
        #expect(file.alignment == 32)
    }

    @Test("rewriting the gguf-py fixture through our reader and writer is byte-identical")
    func rewritesFixtureIdentically() throws {
        let source = GGUFTestFiles.fixtures + "/tiny.gguf"
        let file = try GGUFFile(path: source)
        let dir = TemporaryDirectory()
        let path = dir.file("copy.gguf")
        try GGUFWriter.write(
            path: path, metadata: file.metadata, tensors: file.tensors.map { OutputTensor(copying: $0) })
        #expect(GGUFTestFiles.read(path) == GGUFTestFiles.read(source))
    }

    // MARK: Atomicity

    @Test("leaves no temporary file after success")
    func noTemporaryAfterSuccess() throws {
        let dir = TemporaryDirectory()
        try GGUFWriter.write(
            path: dir.file("m.gguf"), metadata: GGUFTestFiles.everyTypeMetadata, tensors: try Self.sampleTensors())
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["m.gguf"])
    }

    struct ProduceFailure: Error, Equatable {}

    @Test("a throwing produce leaves neither the destination nor a temporary file, and keeps an old file")
    func throwingProduce() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("m.gguf")
        var tensors = try Self.sampleTensors()
        tensors.insert(
            OutputTensor(name: "boom", shape: [4], encoding: .dense(.f32), byteCount: 16) { w in
                try w.write([1, 2, 3])
                throw ProduceFailure()
            }, at: 2)
        #expect(throws: ProduceFailure()) {
            try GGUFWriter.write(path: path, metadata: GGUFTestFiles.everyTypeMetadata, tensors: tensors)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)

        // An existing destination survives a failed write.
        try AtomicFileWriter.write([1, 2, 3], to: path)
        #expect(throws: ProduceFailure()) {
            try GGUFWriter.write(path: path, metadata: GGUFMetadata(), tensors: tensors)
        }
        #expect(GGUFTestFiles.read(path) == [1, 2, 3])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["m.gguf"])
    }

    @Test("produce writing the wrong number of bytes is an error and leaves no file", arguments: [3, 5])
    func wrongProducedCount(written: Int) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("m.gguf")
        let tensor = OutputTensor(name: "t", shape: [1], encoding: .dense(.f32), byteCount: 4) { w in
            try w.write([UInt8](repeating: 0, count: written))
        }
        #expect(throws: GGUFError.producedWrongByteCount(path: path, tensor: "t", expected: 4, written: written)) {
            try GGUFWriter.write(path: path, metadata: GGUFMetadata(), tensors: [tensor])
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    // MARK: Argument validation

    enum BadArgument: String, CaseIterable, CustomTestStringConvertible {
        case alignment48, alignment0, alignmentMismatch, alignmentNotU32, emptyKey, arrayElementMismatch
        case arrayTooDeep, nameTooLong, duplicateName, unsignedDense, fiveDims, negativeDim, q8_0Ne0Not32
        case byteCountMismatch

        var testDescription: String { rawValue }

        func arguments(path p: String) -> (GGUFMetadata, [OutputTensor], Int, GGUFError) {
            let ok = GGUFTestFiles.output("ok", shape: [4], .dense(.f32), bytes: [UInt8](repeating: 0, count: 16))
            func t(_ shape: [Int], _ e: TensorEncoding, _ count: Int, name: String = "t") -> OutputTensor {
                GGUFTestFiles.output(name, shape: shape, e, bytes: [UInt8](repeating: 0, count: count))
            }
            switch self {
            case .alignment48: return (GGUFMetadata(), [ok], 48, .invalidAlignment(path: p, alignment: 48))
            case .alignment0: return (GGUFMetadata(), [ok], 0, .invalidAlignment(path: p, alignment: 0))
            case .alignmentMismatch:
                return (
                    GGUFMetadata([("general.alignment", .uint32(64))]), [ok], 32,
                    .alignmentMismatch(path: p, metadata: .uint32(64), parameter: 32)
                )
            case .alignmentNotU32:
                return (
                    GGUFMetadata([("general.alignment", .uint64(32))]), [ok], 32,
                    .alignmentNotUInt32(path: p, type: .uint64)
                )
            case .emptyKey:
                return (GGUFMetadata([("", .uint8(1))]), [], 32, .emptyKey(path: p, index: 0, offset: 24))
            case .arrayElementMismatch:
                return (
                    GGUFMetadata([("k", .array(.int32, [.int32(1), .uint8(2)]))]), [], 32,
                    .arrayElementTypeMismatch(path: p, key: "k", expected: .int32, found: .uint8)
                )
            case .arrayTooDeep:
                var v = GGUFValue.array(.uint8, [])
                for _ in 0..<GGUFLimits.maximumArrayDepth { v = .array(.array, [v]) }
                // header 24 + key 8+4 + type 4 + 8 array headers of 12 bytes.
                return (
                    GGUFMetadata([("deep", v)]), [], 32,
                    .arrayTooDeep(path: p, key: "deep", depth: GGUFLimits.maximumArrayDepth + 1, offset: 136)
                )
            case .nameTooLong:
                let name = String(repeating: "x", count: 64)
                return (
                    GGUFMetadata(), [t([4], .dense(.f32), 16, name: name)], 32,
                    .tensorNameTooLong(path: p, name: name, length: 64)
                )
            case .duplicateName:
                return (GGUFMetadata(), [ok, ok], 32, .duplicateTensorName(path: p, name: "ok"))
            case .unsignedDense:
                return (
                    GGUFMetadata(), [t([4], .dense(.u8), 4)], 32,
                    .unsupportedEncoding(path: p, tensor: "t", encoding: "U8")
                )
            case .fiveDims:
                return (
                    GGUFMetadata(), [t([1, 1, 1, 1, 1], .dense(.f32), 4)], 32,
                    .tooManyDimensions(path: p, tensor: "t", count: 5)
                )
            case .negativeDim:
                return (
                    GGUFMetadata(), [t([-1, 4], .dense(.f32), 0)], 32,
                    .invalidShape(path: p, tensor: "t", shape: [-1, 4])
                )
            case .q8_0Ne0Not32:
                return (
                    GGUFMetadata(), [t([1, 33], .ggml(.q8_0), 34)], 32,
                    .blockSizeMismatch(path: p, tensor: "t", type: .q8_0, ne0: 33)
                )
            case .byteCountMismatch:
                return (
                    GGUFMetadata(), [t([4], .dense(.f32), 15)], 32,
                    .byteCountMismatch(path: p, tensor: "t", declared: 15, expected: 16)
                )
            }
        }
    }

    @Test("rejects invalid arguments before creating any file", arguments: BadArgument.allCases)
    func rejectsBadArguments(_ bad: BadArgument) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("m.gguf")
        let (metadata, tensors, alignment, expected) = bad.arguments(path: path)
        #expect(throws: expected) {
            try GGUFWriter.write(path: path, metadata: metadata, tensors: tensors, alignment: alignment)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    // MARK: Python cross-check (opt-in)

    @Test(
        "gguf-py reads our output (MOEKIT_PY_CROSSCHECK=1)",
        .requiresPythonPackages("gguf", "numpy"))
    func pythonCrossCheck() throws {
        for alignment in [32, 64] {
            let dir = TemporaryDirectory()
            let path = dir.file("ours.gguf")
            var metadata = GGUFTestFiles.everyTypeMetadata
            metadata["general.name"] = .string("cross-check")
            try GGUFWriter.write(
                path: path, metadata: metadata, tensors: try Self.sampleTensors(), alignment: alignment)
            let file = try GGUFFile(path: path)

            var keys: [JSONValue] = []
            for (key, value) in file.metadata.pairs {
                keys.append(
                    .object(
                        JSONObject([
                            ("key", .string(key)), ("type", .integer(Int64(value.type.rawValue))),
                            ("value", Self.json(value)),
                        ])))
            }
            var tensors: [JSONValue] = []
            for (info, view) in zip(file.tensorInfos, file.tensors) {
                let floats: JSONValue =
                    info.type == .i32 ? .null : .array(try view.floats().map { .number(Double($0)) })
                tensors.append(
                    .object(
                        JSONObject([
                            ("name", .string(info.name)), ("ne", .array(info.dimensions.map { .integer(Int64($0)) })),
                            ("type", .integer(Int64(info.type.rawValue))), ("hex", .string(hex(view.bytes))),
                            ("floats", floats),
                        ])))
            }
            let manifest = JSONValue.object(
                JSONObject([
                    ("alignment", .integer(Int64(alignment))), ("keys", .array(keys)), ("tensors", .array(tensors)),
                ]))
            let manifestPath = dir.file("expected.json")
            try AtomicFileWriter.write(JSONWriter.bytes(manifest, indent: 1), to: manifestPath)

            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [
                "python3", GGUFTestFiles.repositoryRoot + "/scripts/crosscheck_gguf.py", path, manifestPath,
            ]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "alignment \(alignment): \(output)")
        }
    }

    /// The manifest encoding `crosscheck_gguf.py` expects: 64-bit integers as decimal strings, arrays as
    /// `{"elem": id, "items": [...]}`.
    static func json(_ value: GGUFValue) -> JSONValue {
        switch value {
        case .uint64(let v): return .string(String(v))
        case .int64(let v): return .string(String(v))
        case .float32(let v): return .number(Double(v))
        case .float64(let v): return .number(v)
        case .bool(let v): return .bool(v)
        case .string(let v): return .string(v)
        case .array(let t, let elements):
            return .object(JSONObject([("elem", .integer(Int64(t.rawValue))), ("items", .array(elements.map(json)))]))
        default: return .integer(Int64(value.intValue!))
        }
    }
}
