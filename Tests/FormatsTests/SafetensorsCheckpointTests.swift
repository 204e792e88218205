import Foundation
import Testing
import TensorCore
import TestSupport
@testable import Formats
@testable import IOCore

private typealias S = SafetensorsTestSupport

@Suite("Safetensors checkpoints (sharded)")
struct SafetensorsCheckpointTests {
    /// Tensors of 40, 40, 200, 40, 8 bytes (F32).
    static func tensors() -> [OutputTensor] {
        [("embed", 10), ("layer.0", 10), ("big", 50), ("layer.1", 10), ("norm", 2)].map { name, n in
            S.output(name, shape: [n], dtype: .f32, bytes: S.bytes(of: (0..<n).map { Float($0) + Float(name.count) }))
        }
    }

    @Test("everything within the maximum gives a single model.safetensors and no index")
    func single() throws {
        let dir = TemporaryDirectory()
        let written = try ShardedSafetensorsWriter.write(directory: dir.path, tensors: Self.tensors())
        #expect(written == [dir.file("model.safetensors")])
        #expect(S.listing(dir.path) == ["model.safetensors"])
        let checkpoint = try SafetensorsCheckpoint(path: dir.path)
        #expect(checkpoint.files.count == 1)
        #expect(checkpoint.indexPath == nil)
        #expect(Set(checkpoint.tensors.map(\.name)) == ["embed", "layer.0", "big", "layer.1", "norm"])
        #expect(checkpoint.metadata.map(\.key) == ["format"])
    }

    @Test("small maximum: shards + index with total_size and weight_map; big tensor in its own shard; reads back")
    func sharded() throws {
        let dir = TemporaryDirectory()
        let written = try ShardedSafetensorsWriter.write(directory: dir.path, tensors: Self.tensors(), maxShardSize: 100)
        // huggingface_hub: [embed, layer.0] | big (own shard, emitted first) | … → [big], [embed, layer.0], [layer.1, norm]
        #expect(written.map { String($0.split(separator: "/").last!) } == [
            "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors",
            "model.safetensors.index.json",
        ])
        #expect(S.listing(dir.path) == written.map { String($0.split(separator: "/").last!) }.sorted())
        let index = try JSONParser.parse(try PathUtilities.readBytes(dir.file("model.safetensors.index.json")))
        #expect(index["metadata"]?["total_size"] == .integer(328))
        let map = try #require(index["weight_map"]?.objectValue)
        #expect(map.keys == ["embed", "layer.0", "big", "layer.1", "norm"])
        #expect(map["big"]?.stringValue == "model-00001-of-00003.safetensors")
        #expect(map["embed"]?.stringValue == "model-00002-of-00003.safetensors")
        #expect(map["layer.0"]?.stringValue == "model-00002-of-00003.safetensors")
        #expect(map["norm"]?.stringValue == "model-00003-of-00003.safetensors")

        for path in [dir.path, dir.file("model.safetensors.index.json")] {
            let checkpoint = try SafetensorsCheckpoint(path: path)
            #expect(checkpoint.files.count == 3)
            #expect(checkpoint.tensors.map(\.name) == ["embed", "layer.0", "big", "layer.1", "norm"])
            for original in Self.tensors() {
                let t = try #require(checkpoint.tensor(named: original.name))
                #expect(t.shape == original.shape)
                #expect(t.bytes.count == original.byteCount)
            }
            #expect(try checkpoint.tensor(named: "big")?.floats() == (0..<50).map { Float($0) + 3 })
            #expect(checkpoint.metadata.map(\.value) == ["pt"])
        }
        // A single shard opens on its own too.
        #expect(try SafetensorsCheckpoint(path: dir.file("model-00003-of-00003.safetensors")).tensors.map(\.name) == ["layer.1", "norm"])
    }

    @Test("shard assignment follows huggingface_hub")
    func assignment() {
        #expect(ShardedSafetensorsWriter.assign([40, 40, 200, 40, 8], maxShardSize: 100) == [[2], [0, 1], [3, 4]])
        #expect(ShardedSafetensorsWriter.assign([50, 50, 1], maxShardSize: 100) == [[0, 1], [2]])
        #expect(ShardedSafetensorsWriter.assign([101], maxShardSize: 100) == [[0]])
        #expect(ShardedSafetensorsWriter.assign([], maxShardSize: 100) == [])
        #expect(ShardedSafetensorsWriter.assign([Int.max / 2, Int.max / 2, 5], maxShardSize: Int.max) == [[0, 1], [2]])
        #expect(ShardedSafetensorsWriter.shardName(index: 2, count: 12) == "model-00002-of-00012.safetensors")
    }

    @Test("rewriting with a different layout removes stale checkpoint files")
    func staleFiles() throws {
        let dir = TemporaryDirectory()
        try ShardedSafetensorsWriter.write(directory: dir.path, tensors: Self.tensors(), maxShardSize: 100)
        try S.save([1, 2, 3], to: dir.file("config.json"))
        try ShardedSafetensorsWriter.write(directory: dir.path, tensors: Self.tensors())
        #expect(S.listing(dir.path) == ["config.json", "model.safetensors"])
        try ShardedSafetensorsWriter.write(directory: dir.path + "/sub", tensors: Self.tensors(), maxShardSize: 150)
        #expect(try SafetensorsCheckpoint(path: dir.path + "/sub").files.count == 2)
    }

    @Test("invalid tensors write nothing")
    func invalidWritesNothing() throws {
        let dir = TemporaryDirectory()
        let tensors = Self.tensors() + [S.output("embed", shape: [1], dtype: .u8, bytes: [1])]
        #expect(throws: SafetensorsError.duplicateTensorName(path: dir.path, tensor: "embed")) {
            try ShardedSafetensorsWriter.write(directory: dir.path, tensors: tensors, maxShardSize: 100)
        }
        #expect(S.listing(dir.path).isEmpty)
    }

    /// Writes a 3-shard checkpoint, then replaces its index with `index`.
    private func checkpoint(index: String) throws -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        try ShardedSafetensorsWriter.write(directory: dir.path, tensors: Self.tensors(), maxShardSize: 100)
        try S.save(Array(index.utf8), to: dir.file("model.safetensors.index.json"))
        return dir
    }

    private static let shard1 = "model-00001-of-00003.safetensors"
    private static let shard2 = "model-00002-of-00003.safetensors"
    private static let shard3 = "model-00003-of-00003.safetensors"

    private static func index(total: Int? = 328, map: [(String, String)]) -> String {
        let meta = total.map { #""metadata":{"total_size":\#($0)},"# } ?? ""
        return "{" + meta + #""weight_map":{"# + map.map { #""\#($0.0)":"\#($0.1)""# }.joined(separator: ",") + "}}"
    }

    private static let goodMap = [
        ("embed", shard2), ("layer.0", shard2), ("big", shard1), ("layer.1", shard3), ("norm", shard3),
    ]

    @Test("index errors: missing shard, tensor missing from its shard, unmapped shard tensor, wrong total_size, malformed")
    func indexErrors() throws {
        func expectError(_ index: String, _ matches: (SafetensorsError) -> Bool, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let dir = try checkpoint(index: index)
            do {
                _ = try SafetensorsCheckpoint(path: dir.path)
                Issue.record("accepted", sourceLocation: sourceLocation)
            } catch let error as SafetensorsError {
                #expect(matches(error), "got \(error)", sourceLocation: sourceLocation)
                #expect(error.path == dir.file("model.safetensors.index.json"), sourceLocation: sourceLocation)
            }
        }
        // Sanity: the good index without total_size is accepted.
        let ok = try checkpoint(index: Self.index(total: nil, map: Self.goodMap))
        #expect(try SafetensorsCheckpoint(path: ok.path).tensors.count == 5)

        var missing = Self.goodMap
        missing[4] = ("norm", "model-00004-of-00004.safetensors")
        try expectError(Self.index(map: missing)) {
            if case .missingShard(_, "model-00004-of-00004.safetensors", "norm") = $0 { true } else { false }
        }
        try expectError(Self.index(map: Self.goodMap + [("ghost", Self.shard3)])) {
            if case .tensorNotInShard(_, "ghost", Self.shard3) = $0 { true } else { false }
        }
        var moved = Self.goodMap
        moved[0] = ("embed", Self.shard3)
        try expectError(Self.index(map: moved)) {
            if case .tensorNotInShard(_, "embed", Self.shard3) = $0 { true } else { false }
        }
        try expectError(Self.index(map: Array(Self.goodMap.dropLast()))) {
            if case .tensorNotInIndex(_, "norm", Self.shard3) = $0 { true } else { false }
        }
        try expectError(Self.index(total: 329, map: Self.goodMap)) {
            if case .totalSizeMismatch(_, 329, 328) = $0 { true } else { false }
        }
        try expectError(#"{"metadata":{"total_size":"328"},"weight_map":{}}"#) { if case .invalidIndex = $0 { true } else { false } }
        try expectError(#"{"metadata":{}}"#) { if case .invalidIndex = $0 { true } else { false } }
        try expectError(#"{"weight_map":{"embed":3}}"#) { if case .invalidIndex = $0 { true } else { false } }
        try expectError(#"{"weight_map":{"embed":"../x.safetensors"}}"#) { if case .invalidIndex = $0 { true } else { false } }
        try expectError(#"{"weight_map":{"a":"x","a":"y"}}"#) { if case .invalidIndex = $0 { true } else { false } }
        try expectError("[]") { if case .invalidIndex = $0 { true } else { false } }
        try expectError("") { if case .invalidIndex = $0 { true } else { false } }
    }

    @Test("directory resolution: none, ambiguous, lone file")
    func resolution() throws {
        let dir = TemporaryDirectory()
        #expect {
            try SafetensorsCheckpoint(path: dir.path)
        } throws: { if case .noCheckpoint = $0 as? SafetensorsError { true } else { false } }
        #expect {
            try SafetensorsCheckpoint(path: dir.file("nope"))
        } throws: { if case .noCheckpoint = $0 as? SafetensorsError { true } else { false } }
        try SafetensorsWriter.write(path: dir.file("a.safetensors"), tensors: [S.output("x", shape: [1], dtype: .u8, bytes: [5])])
        #expect(try SafetensorsCheckpoint(path: dir.path).tensor(named: "x").map { Array($0.bytes) } == [5])
        try SafetensorsWriter.write(path: dir.file("b.safetensors"), tensors: [S.output("y", shape: [1], dtype: .u8, bytes: [6])])
        #expect {
            try SafetensorsCheckpoint(path: dir.path)
        } throws: { if case .noCheckpoint = $0 as? SafetensorsError { true } else { false } }
        // An invalid shard surfaces its own error.
        try S.save([1, 2, 3], to: dir.file("model.safetensors"))
        #expect {
            try SafetensorsCheckpoint(path: dir.path)
        } throws: { if case .fileTooSmall = $0 as? SafetensorsError { true } else { false } }
    }
}

@Suite("Byte sizes")
struct ByteSizeTests {
    @Test("parses decimal and binary units", arguments: [
        ("5GB", 5_000_000_000), ("500MB", 500_000_000), ("2GiB", 2 << 30), ("123", 123), ("10kb", 10_000),
        ("1.5GB", 1_500_000_000), (" 7 MiB ", 7 << 20), ("64B", 64), ("1TB", 1_000_000_000_000), ("3K", 3000),
        ("0", 0), ("0.5KiB", 512),
    ])
    func parses(text: String, expected: Int) {
        #expect(ByteSize.parse(text) == expected)
    }

    @Test("rejects garbage", arguments: ["", "GB", "5XB", "-5GB", "1.2.3MB", "5 G B", "99999999999999999999", "9999999999TB", "1.", ".5GB", "0x10"])
    func rejects(text: String) {
        #expect(ByteSize.parse(text) == nil)
    }
}
