import Foundation
import TestSupport
import Testing

@testable import Formats
@testable import IOCore

@Suite("HuggingFaceDirectoryWriter")
struct HuggingFaceDirectoryWriterTests {
    static func tensor(_ name: String, _ values: [Float]) -> OutputTensor {
        OutputTensor(name: name, shape: [values.count], encoding: .dense(.f32), byteCount: 4 * values.count) { writer in
            try values.withUnsafeBytes { try writer.write($0) }
        }
    }

    static func names(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    /// The id of a process that has exited.
    static func deadProcessID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    @Test("a new directory appears with every file at once, and nothing else is left beside it")
    func writesNewDirectory() throws {
        let tmp = TemporaryDirectory()
        let out = tmp.file("model")
        let written = try HuggingFaceDirectoryWriter(destination: out).write(
            tensors: [Self.tensor("a", [1, 2]), Self.tensor("b", [3])], maxShardSize: 8,
            files: [.init(name: "config.json", json: .object(JSONObject([("x", .integer(1))])))],
            finalFiles: { [.init(name: "late.txt", bytes: Array("late".utf8))] })
        #expect(Self.names(out) == [
            "config.json", "late.txt", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
            "model.safetensors.index.json",
        ])
        #expect(written.allSatisfy { $0.hasPrefix(out + "/") && PathUtilities.exists($0) })
        #expect(Self.names(tmp.path) == ["model"])
        let checkpoint = try SafetensorsCheckpoint(path: out)
        #expect(checkpoint.tensor(named: "b")?.shape == [1])
        #expect(try PathUtilities.readBytes(PathUtilities.join(out, "config.json")) == Array("{\n  \"x\": 1\n}\n".utf8))
    }

    @Test("an existing directory is kept unless replaceExisting; replacing swaps it as a whole")
    func replacesOnlyWhenAsked() throws {
        let tmp = TemporaryDirectory()
        let out = tmp.file("model")
        try HuggingFaceDirectoryWriter(destination: out).write(tensors: [Self.tensor("old", [1])], files: [.init(name: "old.txt", bytes: [1])])
        #expect(throws: OutputSafetyError.outputExists(path: out)) {
            try HuggingFaceDirectoryWriter(destination: out).write(tensors: [Self.tensor("new", [2])])
        }
        #expect(Self.names(out) == ["model.safetensors", "old.txt"])
        try HuggingFaceDirectoryWriter(destination: out, replaceExisting: true).write(tensors: [Self.tensor("new", [2])])
        #expect(Self.names(out) == ["model.safetensors"])
        #expect(try SafetensorsCheckpoint(path: out).tensor(named: "new") != nil)
        #expect(Self.names(tmp.path) == ["model"])
    }

    @Test("a failure while writing leaves the old directory untouched and removes the temporary one")
    func failureKeepsOldState() throws {
        struct Boom: Error {}
        let tmp = TemporaryDirectory()
        let out = tmp.file("model")
        try HuggingFaceDirectoryWriter(destination: out).write(tensors: [Self.tensor("old", [1])])
        let before = try PathUtilities.readBytes(PathUtilities.join(out, "model.safetensors"))
        let failing = OutputTensor(name: "bad", shape: [1], encoding: .dense(.f32), byteCount: 4) { _ in throw Boom() }
        #expect(throws: Boom.self) {
            try HuggingFaceDirectoryWriter(destination: out, replaceExisting: true).write(tensors: [failing])
        }
        #expect(try PathUtilities.readBytes(PathUtilities.join(out, "model.safetensors")) == before)
        #expect(Self.names(tmp.path) == ["model"])
        // Duplicate tensor names fail before the temporary directory exists.
        #expect(throws: SafetensorsError.self) {
            try HuggingFaceDirectoryWriter(destination: tmp.file("other")).write(tensors: [Self.tensor("a", [1]), Self.tensor("a", [2])])
        }
        #expect(Self.names(tmp.path) == ["model"])
    }

    @Test("temporaries of dead processes beside the output are removed, those of live ones kept")
    func removesStaleTemporaries() throws {
        let tmp = TemporaryDirectory()
        let dead = try Self.deadProcessID()
        try FileManager.default.createDirectory(atPath: tmp.file(".model.tmp-\(dead)"), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: tmp.file(".model.tmp-\(dead)/model.safetensors"), contents: Data([1, 2]))
        FileManager.default.createFile(atPath: tmp.file(".x.gguf.tmp-\(dead)"), contents: Data("GGUF\u{3}".utf8))
        try FileManager.default.createDirectory(atPath: tmp.file(".model.old-\(dead)"), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: tmp.file(".y.tmp-1"), contents: Data([1]))  // pid 1 is alive
        FileManager.default.createFile(atPath: tmp.file("keep.tmp-\(dead)"), contents: Data([1]))  // not a writer name
        // Writer names whose content is not a writer's (another program's files) are kept.
        FileManager.default.createFile(atPath: tmp.file(".other.tmp-\(dead)"), contents: Data("plain text".utf8))
        try FileManager.default.createDirectory(atPath: tmp.file(".nested.tmp-\(dead)/sub"), withIntermediateDirectories: true)
        try HuggingFaceDirectoryWriter(destination: tmp.file("model")).write(tensors: [Self.tensor("a", [1])])
        #expect(Self.names(tmp.path) == [".nested.tmp-\(dead)", ".other.tmp-\(dead)", ".y.tmp-1", "keep.tmp-\(dead)", "model"])
    }

    @Test("writer temporary names are recognised with their process id")
    func temporaryNames() {
        #expect(TemporaryPaths.ownerProcess(ofTemporaryName: ".model.tmp-123") == 123)
        #expect(TemporaryPaths.ownerProcess(ofTemporaryName: ".a.gguf.old-9") == 9)
        #expect(TemporaryPaths.ownerProcess(ofTemporaryName: "model.tmp-123") == nil)
        #expect(TemporaryPaths.ownerProcess(ofTemporaryName: ".model.tmp-") == nil)
        #expect(TemporaryPaths.ownerProcess(ofTemporaryName: ".model.bak-12") == nil)
        #expect(TemporaryPaths.ownerProcess(ofTemporaryName: ".tmp-12") == nil)
        #expect(TemporaryPaths.temporary(for: "/a/b/out") == "/a/b/.out.tmp-\(getpid())")
        #expect(TemporaryPaths.temporary(for: "out/") == ".out.tmp-\(getpid())")
    }

    @Test("free space is checked against the bytes an output needs")
    func freeSpace() throws {
        let tmp = TemporaryDirectory()
        let available = try #require(OutputSafety.availableBytes(for: tmp.file("x")))
        #expect(available > 0)
        try OutputSafety.checkFreeSpace(bytes: 1, for: tmp.file("x"))
        #expect(throws: OutputSafetyError.self) { try OutputSafety.checkFreeSpace(bytes: Int.max, for: tmp.file("x")) }
    }
}
