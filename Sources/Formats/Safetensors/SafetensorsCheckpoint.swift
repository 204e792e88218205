import Foundation
import IOCore
import TensorCore

/// A Hugging Face safetensors checkpoint: one `model.safetensors`, or shards listed by
/// `model.safetensors.index.json` (`{"metadata": {"total_size": …}, "weight_map": {tensor: shard file}}`).
///
/// The index is cross-checked against the shards so that a checkpoint that loads here loads the same way in
/// transformers: every mapped shard exists, every mapped tensor is in its shard, every shard tensor is mapped to
/// that shard, and `metadata.total_size` (when present) equals the tensors' data bytes.
public final class SafetensorsCheckpoint: @unchecked Sendable {
    /// File name of a single-file checkpoint.
    public static let singleFileName = "model.safetensors"
    /// File name of a sharded checkpoint's index.
    public static let indexFileName = "model.safetensors.index.json"

    /// The opened files: one, or the shards in order of first appearance in `weight_map`.
    public let files: [SafetensorsFile]
    /// All tensors: in `weight_map` order when indexed, else in file (data-offset) order.
    public let tensors: [TensorView]
    /// The index file, when the checkpoint is sharded.
    public let indexPath: String?
    private let index: [String: Int]

    /// `__metadata__` of the first shard (empty when there are no files or no metadata).
    public var metadata: [(key: String, value: String)] { files.first?.metadata ?? [] }

    /// Opens a single `.safetensors` file, a `model.safetensors.index.json`, or a directory containing either.
    ///
    /// In a directory, `model.safetensors` wins over `model.safetensors.index.json` (as in transformers); failing
    /// both, a lone `*.safetensors.index.json` or a lone `*.safetensors` file is used.
    /// - Throws: `SafetensorsError` (no or ambiguous checkpoint, malformed or inconsistent index, invalid shard) or
    ///   `MappedFileError` when a file cannot be opened.
    public init(path: String) throws {
        let resolved = try SafetensorsCheckpoint.resolve(path)
        if resolved.hasSuffix(".json") {
            let (files, tensors) = try SafetensorsCheckpoint.openIndexed(indexPath: resolved)
            self.files = files
            self.tensors = tensors
            self.indexPath = resolved
        } else {
            let file = try SafetensorsFile(path: resolved)
            self.files = [file]
            self.tensors = file.tensors
            self.indexPath = nil
        }
        var index: [String: Int] = [:]
        index.reserveCapacity(tensors.count)
        for (i, t) in tensors.enumerated() { index[t.name] = i }
        self.index = index
    }

    /// The tensor called `named`, or nil.
    public func tensor(named name: String) -> TensorView? {
        index[name].map { tensors[$0] }
    }

    /// The file to open for `path`: the path itself for files, the checkpoint file inside a directory.
    static func resolve(_ path: String) throws(SafetensorsError) -> String {
        guard PathUtilities.isDirectory(path) else {
            guard PathUtilities.exists(path) else { throw .noCheckpoint(path: path, reason: "no such file or directory") }
            return path
        }
        let single = PathUtilities.join(path, singleFileName)
        if PathUtilities.exists(single) { return single }
        let indexFile = PathUtilities.join(path, indexFileName)
        if PathUtilities.exists(indexFile) { return indexFile }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { !$0.hasPrefix(".") }
        let indexes = names.filter { $0.hasSuffix(".safetensors.index.json") }.sorted()
        if indexes.count == 1 { return PathUtilities.join(path, indexes[0]) }
        if indexes.count > 1 {
            throw .noCheckpoint(path: path, reason: "several safetensors indexes: \(indexes.joined(separator: ", "))")
        }
        let files = names.filter { $0.hasSuffix(".safetensors") }.sorted()
        if files.count == 1 { return PathUtilities.join(path, files[0]) }
        if files.isEmpty { throw .noCheckpoint(path: path, reason: "no .safetensors file or index in directory") }
        throw .noCheckpoint(
            path: path, reason: "several .safetensors files and no index: \(files.joined(separator: ", "))")
    }

    /// Parses and cross-checks an index, opening its shards.
    private static func openIndexed(indexPath: String) throws -> ([SafetensorsFile], [TensorView]) {
        let root: JSONValue
        do {
            root = try JSONParser.parse(try PathUtilities.readBytes(indexPath))
        } catch let error as JSONParseError {
            throw SafetensorsError.invalidIndex(path: indexPath, reason: error.description)
        }
        guard case .object(let object) = root else {
            throw SafetensorsError.invalidIndex(path: indexPath, reason: "must be a JSON object, found \(root.typeName)")
        }
        guard let mapValue = object["weight_map"] else {
            throw SafetensorsError.invalidIndex(path: indexPath, reason: "missing weight_map")
        }
        guard case .object(let weightMap) = mapValue else {
            throw SafetensorsError.invalidIndex(
                path: indexPath, reason: "weight_map must be an object, found \(mapValue.typeName)")
        }
        var declaredTotal: Int?
        if let meta = object["metadata"], meta != .null {
            guard case .object(let metaObject) = meta else {
                throw SafetensorsError.invalidIndex(path: indexPath, reason: "metadata must be an object, found \(meta.typeName)")
            }
            if let total = metaObject["total_size"] {
                guard let value = total.intValue, value >= 0, let exact = Int(exactly: value) else {
                    throw SafetensorsError.invalidIndex(
                        path: indexPath, reason: "metadata.total_size must be a non-negative integer, found "
                            + JSONWriter.serialize(total))
                }
                declaredTotal = exact
            }
        }

        let slash = indexPath.lastIndex(of: "/")
        let directory = slash.map { String(indexPath[..<$0]) } ?? "."
        var entries: [(tensor: String, shard: String)] = []
        entries.reserveCapacity(weightMap.count)
        var shardNames: [String] = []
        var shardOrdinal: [String: Int] = [:]
        for (tensor, value) in weightMap.pairs {
            guard case .string(let shard) = value else {
                throw SafetensorsError.invalidIndex(
                    path: indexPath, reason: "weight_map['\(tensor)'] must be a file name, found \(value.typeName)")
            }
            guard !shard.isEmpty, !shard.contains("/"), shard != ".", shard != ".." else {
                throw SafetensorsError.invalidIndex(
                    path: indexPath, reason: "weight_map['\(tensor)'] = '\(shard)' is not a file name in the index's directory")
            }
            if shardOrdinal[shard] == nil {
                let shardPath = PathUtilities.join(directory.isEmpty ? "/" : directory, shard)
                guard PathUtilities.exists(shardPath) else {
                    throw SafetensorsError.missingShard(path: indexPath, shard: shard, tensor: tensor)
                }
                shardOrdinal[shard] = shardNames.count
                shardNames.append(shard)
            }
            entries.append((tensor, shard))
        }

        var files: [SafetensorsFile] = []
        files.reserveCapacity(shardNames.count)
        for shard in shardNames {
            files.append(try SafetensorsFile(path: PathUtilities.join(directory.isEmpty ? "/" : directory, shard)))
        }
        var tensors: [TensorView] = []
        tensors.reserveCapacity(entries.count)
        for (name, shard) in entries {
            guard let view = files[shardOrdinal[shard]!].tensor(named: name) else {
                throw SafetensorsError.tensorNotInShard(path: indexPath, tensor: name, shard: shard)
            }
            tensors.append(view)
        }
        var total = 0
        for (shard, file) in zip(shardNames, files) {
            for tensor in file.tensors {
                guard case .string(let mapped) = weightMap[tensor.name], mapped == shard else {
                    throw SafetensorsError.tensorNotInIndex(path: indexPath, tensor: tensor.name, shard: shard)
                }
                total += tensor.bytes.count
            }
        }
        if let declaredTotal, declaredTotal != total {
            throw SafetensorsError.totalSizeMismatch(path: indexPath, declared: declaredTotal, actual: total)
        }
        return (files, tensors)
    }
}
