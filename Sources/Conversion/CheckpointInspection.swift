import Formats
import Foundation
import IOCore
import TensorCore

/// A summary of a checkpoint: format, architecture, metadata and every tensor, as `moekit inspect` shows it.
public struct CheckpointInspection: Sendable {
    /// One tensor's description.
    public struct TensorSummary: Sendable, Equatable {
        public let name: String
        /// dtype or ggml type name (`F32`, `Q4_1`).
        public let dtype: String
        /// Shape, outermost first (PyTorch order; GGUF `ne` reversed).
        public let shape: [Int]
        public let bytes: Int
    }

    public let path: String
    /// `gguf`, `safetensors` (a single file) or `huggingface` (a model directory).
    public let format: String
    public let architecture: String?
    /// Transformer block count, when the metadata says it.
    public let blocks: Int?
    /// GGUF key-values, or config.json (HF directory), or `__metadata__` (single safetensors file).
    public let metadata: [(key: String, value: JSONValue)]
    public let tensors: [TensorSummary]

    /// Total number of elements over all tensors.
    public var parameters: Int { tensors.reduce(0) { $0 + $1.shape.reduce(1, *) } }

    /// Inspects a `.gguf` file, a `.safetensors` file, an index file, or a Hugging Face model directory.
    public static func inspect(path: String, fullArrays: Bool = false) throws -> CheckpointInspection {
        if PathUtilities.isDirectory(path) || path.hasSuffix(".index.json") {
            let directory = PathUtilities.isDirectory(path) ? path : URL(fileURLWithPath: path).deletingLastPathComponent().path
            let checkpoint = try SafetensorsCheckpoint(path: path)
            let configPath = PathUtilities.join(directory, "config.json")
            var metadata: [(String, JSONValue)] = []
            var architecture: String?
            var blocks: Int?
            if PathUtilities.exists(configPath) {
                let config: JSONValue
                do { config = try JSONParser.parse(try PathUtilities.readBytes(configPath)) } catch let error as JSONParseError {
                    throw ConversionError.invalidConfigValue(path: configPath, field: "(document)", expected: "JSON", found: error.description)
                }
                metadata = config.objectValue?.pairs.map { ($0.key, $0.value) } ?? []
                architecture = config["model_type"]?.stringValue
                blocks = config["num_hidden_layers"]?.intValue.map(Int.init)
            }
            return CheckpointInspection(
                path: path, format: "huggingface", architecture: architecture, blocks: blocks, metadata: metadata,
                tensors: checkpoint.tensors.map(summary))
        }
        if try isGGUF(path) {
            let file = try GGUFFile(path: path)
            let metadata = file.metadata.pairs.map { ($0.key, Self.json(for: $0.value, fullArrays: fullArrays)) }
            let architecture = file.architecture
            let blocks = architecture.flatMap { file.metadata["\($0).block_count"]?.intValue }
            return CheckpointInspection(
                path: path, format: "gguf", architecture: architecture, blocks: blocks, metadata: metadata,
                tensors: file.tensors.map(summary))
        }
        let file = try SafetensorsFile(path: path)
        return CheckpointInspection(
            path: path, format: "safetensors", architecture: nil, blocks: nil,
            metadata: file.metadata.map { ($0.key, .string($0.value)) }, tensors: file.tensors.map(summary))
    }

    /// Whether the file starts with the GGUF magic.
    /// - Throws: `GGUFError.emptyFile`/`.badMagic` for a file named `*.gguf` that does not start with it, so that it
    ///   is reported as the GGUF it claims to be rather than as a safetensors file.
    public static func isGGUF(_ path: String) throws -> Bool {
        let file = try MappedFile(path: path)
        let magic = file.bytes.count >= 4 && Array(file.bytes[0..<4]) == Array("GGUF".utf8)
        if !magic, path.lowercased().hasSuffix(".gguf") {
            if file.bytes.isEmpty { throw GGUFError.emptyFile(path: path) }
            throw GGUFError.badMagic(path: path, found: Array(file.bytes.prefix(4)))
        }
        return magic
    }

    static func summary(_ tensor: TensorView) -> TensorSummary {
        TensorSummary(name: tensor.name, dtype: tensor.encoding.description, shape: tensor.shape, bytes: tensor.bytes.count)
    }

    /// JSON for a GGUF value; arrays longer than 16 are summarised as `{"array": type, "count": n, "head": [...]}`
    /// unless `fullArrays`.
    public static func json(for value: GGUFValue, fullArrays: Bool) -> JSONValue {
        switch value {
        case .array(let type, let items):
            if fullArrays || items.count <= 16 { return .array(items.map { json(for: $0, fullArrays: fullArrays) }) }
            return .object(JSONObject([
                ("array", .string(String(describing: type))), ("count", .integer(Int64(items.count))),
                ("head", .array(items.prefix(8).map { json(for: $0, fullArrays: false) })),
            ]))
        default:
            return ConfigValueMapping.jsonValue(value) ?? .null
        }
    }

    /// Machine-readable form: `format`, `architecture`, `blocks`, `metadata`, `tensors` [{name, dtype, shape, bytes}],
    /// `parameters`.
    public func json() -> JSONValue {
        .object(JSONObject([
            ("path", .string(path)), ("format", .string(format)),
            ("architecture", architecture.map { .string($0) } ?? .null),
            ("blocks", blocks.map { .integer(Int64($0)) } ?? .null),
            ("metadata", .object(JSONObject(metadata.map { ($0.key, $0.value) }))),
            ("tensors", .array(tensors.map { t in
                .object(JSONObject([
                    ("name", .string(t.name)), ("dtype", .string(t.dtype)),
                    ("shape", .array(t.shape.map { .integer(Int64($0)) })), ("bytes", .integer(Int64(t.bytes))),
                ]))
            })),
            ("parameters", .integer(Int64(parameters))),
        ]))
    }

    /// Human-readable form.
    public func text() -> String {
        var lines = ["\(path)", "  format:       \(format)"]
        if let architecture { lines.append("  architecture: \(architecture)") }
        if let blocks { lines.append("  blocks:       \(blocks)") }
        let totalBytes = tensors.reduce(0) { $0 + $1.bytes }
        lines.append("  tensors:      \(tensors.count) (\(totalBytes) bytes)")
        lines.append("  parameters:   \(parameters) (\(String(format: "%.1f", Double(parameters) / 1e6)) M)")
        var types: [String: Int] = [:]
        for t in tensors { types[t.dtype, default: 0] += 1 }
        lines.append("  types:        " + types.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: ", "))
        lines.append("metadata:")
        for (key, value) in metadata {
            var text = JSONWriter.serialize(value)
            if text.count > 100 { text = String(text.prefix(97)) + "..." }
            lines.append("  \(key) = \(text)")
        }
        lines.append("tensors:")
        let width = min(60, tensors.map(\.name.count).max() ?? 0)
        for t in tensors {
            let name = t.name.padding(toLength: max(width, t.name.count), withPad: " ", startingAt: 0)
            lines.append("  \(name)  \(t.dtype.padding(toLength: 5, withPad: " ", startingAt: 0))  \(t.shape)  \(t.bytes)")
        }
        return lines.joined(separator: "\n")
    }
}
