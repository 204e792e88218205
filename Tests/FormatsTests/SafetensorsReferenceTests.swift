import Foundation
import Testing
import TensorCore
import TestSupport
@testable import Formats
@testable import IOCore

private typealias S = SafetensorsTestSupport

/// A fixture written by the reference implementation (scripts/make_safetensors_fixtures.py) and its description.
struct SafetensorsFixture {
    struct Tensor {
        let name: String
        let dtype: DType
        let shape: [Int]
        let values: [Float]
        let data: [UInt8]
    }
    let path: String
    let metadata: [(key: String, value: String)]
    let fileOrder: [String]
    let tensors: [Tensor]
    let fileSize: Int
    let headerLength: Int

    init(_ name: String) throws {
        path = S.fixtures + "/\(name).safetensors"
        let json = try JSONParser.parse(try PathUtilities.readBytes(S.fixtures + "/\(name).expected.json"))
        metadata = (json["metadata"]?.arrayValue ?? []).map { pair in
            (pair.arrayValue?[0].stringValue ?? "", pair.arrayValue?[1].stringValue ?? "")
        }
        fileOrder = (json["file_order"]?.arrayValue ?? []).compactMap(\.stringValue)
        tensors = (json["tensors"]?.objectValue?.pairs ?? []).map { name, spec in
            Tensor(
                name: name, dtype: DType(rawValue: spec["dtype"]?.stringValue ?? "")!,
                shape: (spec["shape"]?.arrayValue ?? []).compactMap(\.intValue).map { Int($0) },
                values: (spec["values"]?.arrayValue ?? []).compactMap(\.doubleValue).map { Float($0) },
                data: S.hex(spec["hex"]?.stringValue ?? ""))
        }
        fileSize = Int(json["file_size"]?.intValue ?? -1)
        headerLength = Int(json["header_length"]?.intValue ?? -1)
    }

    /// Output tensors over the fixture's data (in the description's order, not the file's).
    var outputs: [OutputTensor] {
        tensors.map { S.output($0.name, shape: $0.shape, dtype: $0.dtype, bytes: $0.data) }
    }
}

@Suite("Safetensors vs the reference implementation")
struct SafetensorsReferenceTests {
    static let fixtureNames = ["mixed", "attn", "names"]

    @Test("reads reference-written files: dtypes, shapes, values, metadata, order", arguments: fixtureNames)
    func readsReference(name: String) throws {
        let fixture = try SafetensorsFixture(name)
        let file = try SafetensorsFile(path: fixture.path)
        #expect(file.mappedFile.count == fixture.fileSize)
        #expect(file.header.headerLength == fixture.headerLength)
        #expect(file.tensors.map(\.name) == fixture.fileOrder)
        #expect(file.metadata.map(\.key) == fixture.metadata.map(\.key))
        #expect(file.metadata.map(\.value) == fixture.metadata.map(\.value))
        for expected in fixture.tensors {
            let t = try #require(file.tensor(named: expected.name))
            #expect(t.encoding == .dense(expected.dtype), "\(expected.name)")
            #expect(t.shape == expected.shape, "\(expected.name)")
            #expect(Array(t.bytes) == expected.data, "\(expected.name)")
            #expect(try t.floats() == expected.values, "\(expected.name)")
        }
    }

    @Test("our writer reproduces reference files byte for byte", arguments: fixtureNames)
    func byteIdentical(name: String) throws {
        let fixture = try SafetensorsFixture(name)
        let dir = TemporaryDirectory()
        let path = dir.file("ours.safetensors")
        try SafetensorsWriter.write(path: path, tensors: fixture.outputs, metadata: fixture.metadata)
        let ours = try PathUtilities.readBytes(path)
        let reference = try PathUtilities.readBytes(fixture.path)
        #expect(ours.count == reference.count)
        #expect(ours == reference)
        if ours != reference {
            let n = min(ours.count, reference.count)
            let first = (0..<n).first { ours[$0] != reference[$0] } ?? n
            Issue.record("first difference at byte \(first): \(String(decoding: ours.prefix(first + 40).suffix(80), as: UTF8.self))")
        }
    }

    @Test("opt-in (MOEKIT_PY_CROSSCHECK=1): python safetensors loads files our writer produced",
        .requiresPythonPackages("safetensors", "numpy"))
    func pythonLoadsOurFiles() throws {
        let dir = TemporaryDirectory()
        for name in Self.fixtureNames {
            let fixture = try SafetensorsFixture(name)
            let path = dir.file("\(name).safetensors")
            // Reversed metadata order and input order: the reference reader must not care.
            try SafetensorsWriter.write(path: path, tensors: fixture.outputs.reversed(), metadata: fixture.metadata.reversed())
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [
                "python3", S.repositoryRoot + "/scripts/crosscheck_safetensors.py", path,
                S.fixtures + "/\(name).expected.json",
            ]
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "crosscheck failed for \(name)")
        }
    }
}
