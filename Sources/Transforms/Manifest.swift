import Formats
import Foundation
import IOCore

/// The provenance record every `moekit split` / `upcycle` output carries (as `moekit-manifest.json`, safetensors
/// `__metadata__["moekit_manifest"]` and GGUF key `moekit.manifest`).
///
/// Per-layer neuron→expert assignments are compressed: a non-overlapping split that covers every neuron is stored as
/// its label array (`labels_b64`, base64 of one byte per neuron, two little-endian bytes when E > 256); anything
/// else (upcycled copies, overlapping experts) as per-expert run lists `[[start, length], …]`.
public enum Manifest {
    /// Key in safetensors `__metadata__`.
    public static let safetensorsKey = "moekit_manifest"
    /// GGUF metadata key.
    public static let ggufKey = "moekit.manifest"
    /// File name written next to (HF: inside) the output.
    public static let fileName = "moekit-manifest.json"

    /// Where the manifest file of `output` lives.
    public static func path(forOutput output: String, isDirectory: Bool) -> String {
        isDirectory ? PathUtilities.join(output, fileName) : output + "." + fileName
    }

    /// Encodes one layer's assignment.
    public static func encodeAssignment(_ assignment: [[Int]], neurons: Int) -> JSONValue {
        let flat = assignment.flatMap { $0 }
        if flat.count == neurons, Set(flat).count == neurons, flat.allSatisfy({ $0 >= 0 && $0 < neurons }) {
            var labels = [Int](repeating: 0, count: neurons)
            for (e, list) in assignment.enumerated() { for n in list { labels[n] = e } }
            let wide = assignment.count > 256
            var bytes: [UInt8] = []
            bytes.reserveCapacity(neurons * (wide ? 2 : 1))
            for label in labels {
                bytes.append(UInt8(truncatingIfNeeded: label))
                if wide { bytes.append(UInt8(truncatingIfNeeded: label >> 8)) }
            }
            return .object(JSONObject([
                ("encoding", .string(wide ? "labels-u16le" : "labels-u8")), ("neurons", .integer(Int64(neurons))),
                ("labels_b64", .string(Data(bytes).base64EncodedString())),
            ]))
        }
        let runs: [JSONValue] = assignment.map { list in
            var result: [JSONValue] = []
            var index = 0
            while index < list.count {
                var end = index + 1
                while end < list.count && list[end] == list[end - 1] + 1 { end += 1 }
                result.append(.array([.integer(Int64(list[index])), .integer(Int64(end - index))]))
                index = end
            }
            return .array(result)
        }
        return .object(JSONObject([
            ("encoding", .string("runs")), ("neurons", .integer(Int64(neurons))), ("experts", .array(runs)),
        ]))
    }

    /// Decodes an assignment written by `encodeAssignment`: neuron lists per expert, ascending.
    public static func decodeAssignment(_ json: JSONValue, experts: Int) -> [[Int]]? {
        guard let encoding = json["encoding"]?.stringValue, let neurons = json["neurons"]?.intValue.map(Int.init) else { return nil }
        switch encoding {
        case "labels-u8", "labels-u16le":
            guard let text = json["labels_b64"]?.stringValue, let data = Data(base64Encoded: text) else { return nil }
            let bytes = [UInt8](data)
            let wide = encoding == "labels-u16le"
            guard bytes.count == neurons * (wide ? 2 : 1) else { return nil }
            var lists = [[Int]](repeating: [], count: experts)
            for n in 0..<neurons {
                let label = wide ? Int(bytes[2 * n]) | Int(bytes[2 * n + 1]) << 8 : Int(bytes[n])
                guard label < experts else { return nil }
                lists[label].append(n)
            }
            return lists
        case "runs":
            guard let lists = json["experts"]?.arrayValue else { return nil }
            return lists.map { runs in
                (runs.arrayValue ?? []).flatMap { run -> [Int] in
                    guard let pair = run.arrayValue, pair.count == 2, let start = pair[0].intValue, let length = pair[1].intValue else { return [] }
                    return Array(Int(start)..<Int(start + length))
                }
            }
        default:
            return nil
        }
    }

    /// Reads the manifest of an MoE output: the GGUF key, the safetensors `__metadata__` entry, or the file.
    public static func read(modelPath: String) throws -> JSONValue? {
        var text: String?
        if PathUtilities.isDirectory(modelPath) {
            if let checkpoint = try? SafetensorsCheckpoint(path: modelPath) {
                text = checkpoint.metadata.first { $0.key == safetensorsKey }?.value
            }
            let file = path(forOutput: modelPath, isDirectory: true)
            if text == nil, PathUtilities.exists(file) { text = String(decoding: try PathUtilities.readBytes(file), as: UTF8.self) }
        } else {
            if let gguf = try? GGUFFile(path: modelPath) { text = gguf.metadata[ggufKey]?.stringValue }
            let file = path(forOutput: modelPath, isDirectory: false)
            if text == nil, PathUtilities.exists(file) { text = String(decoding: try PathUtilities.readBytes(file), as: UTF8.self) }
        }
        guard let text else { return nil }
        return try JSONParser.parse(Array(text.utf8))
    }
}
