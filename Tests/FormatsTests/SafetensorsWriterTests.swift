import Foundation
import Testing
import TensorCore
import TestSupport
@testable import Formats
@testable import IOCore

private typealias S = SafetensorsTestSupport

private struct ProduceFailure: Error {}

@Suite("Safetensors writer")
struct SafetensorsWriterTests {
    @Test("worked vector: attn.0 [1,2,3] F32 without metadata gives N = 64 and a 96-byte file")
    func workedVector() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("attn.safetensors")
        let values: [Float] = [0, 1, 2, 3, 4, 5]
        try SafetensorsWriter.write(
            path: path, tensors: [S.output("attn.0", shape: [1, 2, 3], dtype: .f32, bytes: S.bytes(of: values))],
            metadata: [])
        let bytes = try PathUtilities.readBytes(path)
        #expect(bytes.count == 96)
        #expect(bytes == S.file(header: SafetensorsReaderTests.attnHeader, data: S.bytes(of: values)))
        let file = try SafetensorsFile(path: path)
        #expect(try file.tensors[0].floats() == values)
    }

    @Test("header: __metadata__ first, sorted by dtype rank then name, padded to a multiple of 8")
    func headerLayout() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("h.safetensors")
        try SafetensorsWriter.write(
            path: path,
            tensors: [
                S.output("b", shape: [1], dtype: .u8, bytes: [1]),
                S.output("a", shape: [1], dtype: .u8, bytes: [2]),
                S.output("z", shape: [1], dtype: .f32, bytes: S.bytes(of: [3])),
                S.output("h", shape: [1], dtype: .bf16, bytes: [0, 0x40]),
                S.output("g", shape: [1], dtype: .f16, bytes: [0, 0x3C]),
                S.output("l", shape: [1], dtype: .i64, bytes: [UInt8](repeating: 0, count: 8)),
            ])
        let bytes = try PathUtilities.readBytes(path)
        let n = Int(bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        #expect(n % 8 == 0)
        let json = String(decoding: bytes[8..<8 + n], as: UTF8.self)
        #expect(json.hasPrefix(#"{"__metadata__":{"format":"pt"},"l":{"dtype":"I64""#))
        let file = try SafetensorsFile(path: path)
        #expect(file.tensors.map(\.name) == ["l", "z", "h", "g", "a", "b"])
        #expect(file.metadata.map(\.key) == ["format"])
        // Every tensor naturally aligned in the file.
        for t in file.tensors {
            if case .dense(let d) = t.encoding { #expect(t.fileOffset % d.byteSize == 0) }
        }
        #expect(file.tensor(named: "a").map { Array($0.bytes) } == [2])
    }

    @Test("round trip keeps bytes identical", arguments: [DType.f32, .f16, .bf16])
    func roundTrip(dtype: DType) throws {
        let values: [Float] = (0..<257).map { Float($0) * 0.37 - 40 }
        let view = try values.withUnsafeBufferPointer { buffer in
            try TensorView.encoding(buffer, name: "w", shape: [257], as: .dense(dtype))
        }
        let scalar = TensorView.float32([1.25], name: "s", shape: [])
        let empty = TensorView.float32([], name: "e", shape: [0, 4])
        let dir = TemporaryDirectory()
        let path = dir.file("rt.safetensors")
        try SafetensorsWriter.write(
            path: path, tensors: [OutputTensor(copying: view), OutputTensor(copying: scalar), OutputTensor(copying: empty)],
            metadata: [("format", "pt"), ("origin", "moekit")])
        let file = try SafetensorsFile(path: path)
        let back = try #require(file.tensor(named: "w"))
        #expect(back.encoding == .dense(dtype))
        #expect(back.shape == [257])
        #expect(Array(back.bytes) == Array(view.bytes))
        #expect(try back.floats() == view.floats())
        #expect(try file.tensor(named: "s")?.floats() == [1.25])
        #expect(file.tensor(named: "e")?.shape == [0, 4])
        #expect(file.metadata.map(\.key) == ["format", "origin"])
        #expect(S.listing(dir.path) == ["rt.safetensors"])
    }

    @Test("ggml plain types normalise to dense; block quantisation is refused")
    func encodings() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("g.safetensors")
        let half = OutputTensor(name: "h", shape: [2], encoding: .ggml(.f16), byteCount: 4) { try $0.write([0, 0x3C, 0, 0xC0]) }
        try SafetensorsWriter.write(path: path, tensors: [half])
        #expect(try SafetensorsFile(path: path).tensors[0].floats() == [1, -2])
        let q = OutputTensor(name: "q", shape: [32], encoding: .ggml(.q4_0), byteCount: 18) { try $0.writeZeros(18) }
        #expect {
            try SafetensorsWriter.write(path: dir.file("q.safetensors"), tensors: [q])
        } throws: { error in
            if case .unsupportedEncoding(_, "q", "Q4_0") = error as? SafetensorsError { return true }
            return false
        }
    }

    @Test("refuses a tensor named __metadata__, duplicate names, duplicate metadata keys, bad sizes and shapes")
    func refusals() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("r.safetensors")
        func expectError(_ tensors: [OutputTensor], metadata: [(key: String, value: String)] = [("format", "pt")],
            _ matches: (SafetensorsError) -> Bool, sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                try SafetensorsWriter.write(path: path, tensors: tensors, metadata: metadata)
                Issue.record("write succeeded", sourceLocation: sourceLocation)
            } catch let error as SafetensorsError {
                #expect(matches(error), "got \(error)", sourceLocation: sourceLocation)
                #expect(error.description.hasPrefix(path + ": "), sourceLocation: sourceLocation)
            } catch {
                Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
            }
            #expect(S.listing(dir.path).isEmpty, sourceLocation: sourceLocation)
        }
        let u8 = { (name: String) in S.output(name, shape: [1], dtype: .u8, bytes: [1]) }
        expectError([u8("__metadata__")]) { if case .reservedTensorName = $0 { true } else { false } }
        expectError([u8("a"), u8("b"), u8("a")]) { if case .duplicateTensorName(_, "a") = $0 { true } else { false } }
        expectError([u8("a")], metadata: [("format", "pt"), ("format", "tf")]) {
            if case .duplicateMetadataKey(_, "format") = $0 { true } else { false }
        }
        expectError([S.output("w", shape: [2, 3], dtype: .f32, bytes: [UInt8](repeating: 0, count: 12))]) {
            if case .byteCountMismatch(_, "w", 12, 24) = $0 { true } else { false }
        }
        expectError([S.output("w", shape: [-1], dtype: .u8, bytes: [])]) { if case .invalidShape = $0 { true } else { false } }
        expectError([S.output("w", shape: [1 << 40, 1 << 40], dtype: .u8, bytes: [])]) {
            if case .sizeOverflow = $0 { true } else { false }
        }
        let liar = OutputTensor(name: "w", shape: [4], encoding: .dense(.u8), byteCount: 4) { try $0.write([1, 2, 3]) }
        expectError([u8("a"), liar]) { if case .producedWrongByteCount(_, "w", 4, 3) = $0 { true } else { false } }
    }

    @Test("atomic: a throwing produce leaves no destination and no temporary file; an old file survives")
    func atomicFailure() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("a.safetensors")
        let failing = OutputTensor(name: "f", shape: [1 << 20], encoding: .dense(.f32), byteCount: 4 << 20) { writer in
            try writer.writeZeros(1 << 20)
            throw ProduceFailure()
        }
        #expect(throws: ProduceFailure.self) {
            try SafetensorsWriter.write(path: path, tensors: [S.output("a", shape: [1], dtype: .u8, bytes: [1]), failing])
        }
        #expect(S.listing(dir.path).isEmpty)

        try SafetensorsWriter.write(path: path, tensors: [S.output("old", shape: [1], dtype: .u8, bytes: [9])])
        #expect(throws: ProduceFailure.self) { try SafetensorsWriter.write(path: path, tensors: [failing]) }
        #expect(S.listing(dir.path) == ["a.safetensors"])
        #expect(try SafetensorsFile(path: path).tensors.map(\.name) == ["old"])
    }

    @Test("streams a tensor larger than the 4 MiB write buffer")
    func largeTensor() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("big.safetensors")
        let count = 3 << 20  // 12 MiB of F32, produced in 1 MiB pieces
        let big = OutputTensor(name: "big", shape: [count], encoding: .dense(.f32), byteCount: count * 4) { writer in
            var chunk = [Float](repeating: 0, count: 1 << 18)
            for piece in 0..<(count / chunk.count) {
                for i in chunk.indices { chunk[i] = Float(piece * chunk.count + i) }
                try chunk.withUnsafeBytes { try writer.write($0) }
            }
        }
        try SafetensorsWriter.write(path: path, tensors: [big])
        let t = try #require(try SafetensorsFile(path: path).tensor(named: "big"))
        let values = try t.floats()
        #expect(values.count == count)
        #expect(values[12345] == 12345)
        #expect(values[count - 1] == Float(count - 1))
    }
}
