import Foundation
import IOCore

/// Writes a Hugging Face safetensors checkpoint into a directory, sharded like `huggingface_hub`
/// (`split_state_dict_into_shards_factory` in `src/huggingface_hub/serialization/_base.py`).
public enum ShardedSafetensorsWriter {
    /// Writes `tensors` into `directory` as `model.safetensors` when everything fits in `maxShardSize` bytes of
    /// tensor data, otherwise as `model-0000i-of-0000n.safetensors` plus `model.safetensors.index.json`
    /// (`{"metadata": {"total_size": data bytes}, "weight_map": {tensor: shard}}`, tensors in the given order).
    ///
    /// Tensors are assigned in the given order: a shard is closed when the next tensor would take it over the
    /// maximum, and a tensor larger than the maximum gets a shard of its own (placed before the shard being
    /// filled, as huggingface_hub does). Each file is written atomically and the index last, after a stale index
    /// has been removed first, so an interrupted run never leaves a complete-looking checkpoint. After success,
    /// stale `model.safetensors` / `model-*-of-*.safetensors` files from an earlier write with a different layout
    /// are removed.
    /// - Parameters:
    ///   - directory: created if missing.
    ///   - tensors: tensors to write (unique names; see `SafetensorsWriter.write`).
    ///   - maxShardSize: maximum bytes of tensor data per shard (huggingface_hub default 5 GB).
    ///   - metadata: `__metadata__` of every shard.
    ///   - finalizeMetadata: the final `__metadata__`, asked for before each shard is committed (see
    ///     `SafetensorsWriter.write`); its header must have the length of the one `metadata` gives.
    /// - Returns: the paths of the files written (shards, then the index).
    /// - Throws: `SafetensorsError` for invalid tensors (checked for all shards before anything is written),
    ///   `FileWriteError` for I/O failures (and a final header of another length), or anything a `produce` or
    ///   `finalizeMetadata` closure throws.
    @discardableResult
    public static func write(
        directory: String, tensors: [OutputTensor], maxShardSize: Int = 5_000_000_000,
        metadata: [(key: String, value: String)] = [("format", "pt")],
        finalizeMetadata: (() throws -> [(key: String, value: String)])? = nil
    ) throws -> [String] {
        let indexPath = PathUtilities.join(directory, SafetensorsCheckpoint.indexFileName)
        // Validate everything up front (names across shards, sizes) so a bad input writes nothing. Errors name
        // the directory, since the file a tensor would land in is not known yet.
        _ = try SafetensorsWriter.layout(path: directory, tensors: tensors, metadata: metadata)

        try PathUtilities.createDirectory(directory)
        if PathUtilities.exists(indexPath) { try FileManager.default.removeItem(atPath: indexPath) }

        let shards = assign(tensors.map(\.byteCount), maxShardSize: maxShardSize)
        var written: [String] = []
        if shards.count <= 1 {
            let path = PathUtilities.join(directory, SafetensorsCheckpoint.singleFileName)
            try SafetensorsWriter.write(path: path, tensors: tensors, metadata: metadata, finalizeMetadata: finalizeMetadata)
            written.append(path)
        } else {
            var weightMap = JSONObject()
            var total = 0
            for (i, members) in shards.enumerated() {
                let name = shardName(index: i + 1, count: shards.count)
                let path = PathUtilities.join(directory, name)
                try SafetensorsWriter.write(
                    path: path, tensors: members.map { tensors[$0] }, metadata: metadata, finalizeMetadata: finalizeMetadata)
                written.append(path)
                for m in members { total += tensors[m].byteCount }
            }
            // weight_map in the caller's order (readers take the checkpoint's tensor order from it).
            var shardOf = [Int](repeating: 0, count: tensors.count)
            for (i, members) in shards.enumerated() { for m in members { shardOf[m] = i } }
            for (i, tensor) in tensors.enumerated() {
                weightMap[tensor.name] = .string(shardName(index: shardOf[i] + 1, count: shards.count))
            }
            let index: JSONValue = .object(
                JSONObject([
                    ("metadata", .object(JSONObject([("total_size", .integer(Int64(total)))]))),
                    ("weight_map", .object(weightMap)),
                ]))
            try AtomicFileWriter.write(JSONWriter.bytes(index, indent: 2) + [0x0A], to: indexPath)
            written.append(indexPath)
        }
        removeStaleFiles(in: directory, keeping: Set(written.map { String($0.split(separator: "/").last ?? "") }))
        return written
    }

    /// `model-00001-of-00003.safetensors` (5 digits, 1-based).
    public static func shardName(index: Int, count: Int) -> String {
        "model-\(fiveDigits(index))-of-\(fiveDigits(count)).safetensors"
    }

    private static func fiveDigits(_ n: Int) -> String {
        let s = String(n)
        return s.count >= 5 ? s : String(repeating: "0", count: 5 - s.count) + s
    }

    /// Splits tensor sizes into shards (indices into `sizes`), following huggingface_hub.
    static func assign(_ sizes: [Int], maxShardSize: Int) -> [[Int]] {
        var shards: [[Int]] = []
        var current: [Int] = []
        var currentSize = 0
        for (i, size) in sizes.enumerated() {
            if size > maxShardSize {
                shards.append([i])
                continue
            }
            let (sum, overflow) = currentSize.addingReportingOverflow(size)
            if overflow || sum > maxShardSize, !current.isEmpty {
                shards.append(current)
                current = []
                currentSize = 0
            }
            current.append(i)
            currentSize += size
        }
        if !current.isEmpty { shards.append(current) }
        return shards
    }

    /// Removes `model.safetensors` and `model-NNNNN-of-NNNNN.safetensors` files not written by this run.
    private static func removeStaleFiles(in directory: String, keeping: Set<String>) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where !keeping.contains(name) && isCheckpointFileName(name) {
            try? FileManager.default.removeItem(atPath: PathUtilities.join(directory, name))
        }
    }

    private static func isCheckpointFileName(_ name: String) -> Bool {
        if name == SafetensorsCheckpoint.singleFileName { return true }
        let bytes = Array(name.utf8)
        let pattern = Array("model-#####-of-#####.safetensors".utf8)
        guard bytes.count == pattern.count else { return false }
        for (b, p) in zip(bytes, pattern) {
            if p == UInt8(ascii: "#") {
                guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return false }
            } else if b != p {
                return false
            }
        }
        return true
    }
}
