import Foundation
import Testing
import TensorCore
import TestSupport
@testable import Formats
@testable import IOCore

private typealias S = SafetensorsTestSupport

/// Writers whose header is finalized after the data (`finalizeMetadata`) give the file that writing the final
/// header up front gives, and refuse a final header of another length; `SHA256.BackgroundFiles` gives the
/// digests `SHA256.hex(file:)` gives.
@Suite("Header finalization")
struct HeaderFinalizationTests {
    static let pending = SHA256.BackgroundFiles.pendingDigest
    static let final = SHA256.hex(Array("final".utf8))

    static func tensors() -> [OutputTensor] {
        [S.output("a", shape: [2], dtype: .f32, bytes: S.bytes(of: [1, 2] as [Float])),
         S.output("b", shape: [3], dtype: .i8, bytes: [7, 8, 9])]
    }

    @Test("safetensors: finalized header equals the final header written up front")
    func safetensorsSame() throws {
        let dir = TemporaryDirectory()
        let direct = dir.file("direct.safetensors"), late = dir.file("late.safetensors")
        try SafetensorsWriter.write(path: direct, tensors: Self.tensors(), metadata: [("format", "pt"), ("digest", Self.final)])
        try SafetensorsWriter.write(
            path: late, tensors: Self.tensors(), metadata: [("format", "pt"), ("digest", Self.pending)],
            finalizeMetadata: { [("format", "pt"), ("digest", Self.final)] })
        #expect(try PathUtilities.readBytes(late) == PathUtilities.readBytes(direct))
    }

    @Test("safetensors: a final header of another length throws and leaves no file")
    func safetensorsWrongLength() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("bad.safetensors")
        #expect(throws: FileWriteError.self) {
            try SafetensorsWriter.write(
                path: path, tensors: Self.tensors(), metadata: [("format", "pt"), ("digest", Self.pending)],
                finalizeMetadata: { [("format", "pt"), ("digest", Self.final + "00000000")] })
        }
        #expect(!PathUtilities.exists(path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test("sharded safetensors: every shard is finalized")
    func shardedSame() throws {
        let dir = TemporaryDirectory()
        let direct = dir.file("direct"), late = dir.file("late")
        try ShardedSafetensorsWriter.write(directory: direct, tensors: Self.tensors(), maxShardSize: 8, metadata: [("digest", Self.final)])
        try ShardedSafetensorsWriter.write(
            directory: late, tensors: Self.tensors(), maxShardSize: 8, metadata: [("digest", Self.pending)],
            finalizeMetadata: { [("digest", Self.final)] })
        let names = try FileManager.default.contentsOfDirectory(atPath: direct).sorted()
        #expect(names.count == 3)
        #expect(try FileManager.default.contentsOfDirectory(atPath: late).sorted() == names)
        for name in names {
            #expect(try PathUtilities.readBytes(PathUtilities.join(late, name)) == PathUtilities.readBytes(PathUtilities.join(direct, name)))
        }
    }

    @Test("GGUF: finalized header equals the final header written up front")
    func ggufSame() throws {
        let dir = TemporaryDirectory()
        let direct = dir.file("direct.gguf"), late = dir.file("late.gguf")
        func metadata(_ digest: String) -> GGUFMetadata {
            GGUFMetadata([("general.architecture", .string("llama")), ("moekit.digest", .string(digest)), ("n", .uint32(3))])
        }
        try GGUFWriter.write(path: direct, metadata: metadata(Self.final), tensors: Self.tensors())
        try GGUFWriter.write(path: late, metadata: metadata(Self.pending), tensors: Self.tensors(), finalizeMetadata: { metadata(Self.final) })
        #expect(try PathUtilities.readBytes(late) == PathUtilities.readBytes(direct))
        #expect(try PathUtilities.readBytes(late).count > 0)
    }

    @Test("GGUF: a final header of another length throws and leaves no file")
    func ggufWrongLength() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("bad.gguf")
        #expect(throws: FileWriteError.self) {
            try GGUFWriter.write(
                path: path, metadata: GGUFMetadata([("d", .string(Self.pending))]), tensors: Self.tensors(),
                finalizeMetadata: { GGUFMetadata([("d", .string("short"))]) })
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test("AtomicFileWriter.overwrite: replaces written bytes in place, checks length and range")
    func overwrite() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("o.bin")
        let writer = try AtomicFileWriter(path: path)
        try writer.write([1, 2, 3, 4, 5])
        try writer.overwrite([9, 8], at: 1, replacing: 2)
        #expect(throws: FileWriteError.overwriteLengthChanged(path: path, offset: 0, expected: 2, found: 3)) {
            try writer.overwrite([1, 1, 1], at: 0, replacing: 2)
        }
        #expect(throws: FileWriteError.overwriteOutOfRange(path: path, offset: 4, count: 2, written: 5)) {
            try writer.overwrite([1, 1], at: 4, replacing: 2)
        }
        try writer.write([6])
        try writer.commit()
        #expect(try PathUtilities.readBytes(path) == [1, 9, 8, 4, 5, 6])
    }

    @Test("SHA256.BackgroundFiles: digests in input order, equal to SHA256.hex(file:); missing files throw")
    func backgroundDigests() throws {
        let dir = TemporaryDirectory()
        let sizes = [10, 3 << 20, 0, 70_000, 1 << 20]
        let files = try sizes.enumerated().map { i, size in
            let path = dir.file("f\(i)")
            try Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }).write(to: URL(fileURLWithPath: path))
            return path
        }
        let digests = try SHA256.BackgroundFiles(files: files).wait()
        #expect(digests == (try files.map { try SHA256.hex(file: $0) }))
        #expect(try SHA256.BackgroundFiles(files: []).wait().isEmpty)
        #expect(throws: FileWriteError.self) { try SHA256.BackgroundFiles(files: files + [dir.file("missing")], concurrency: 1).wait() }
    }
}
