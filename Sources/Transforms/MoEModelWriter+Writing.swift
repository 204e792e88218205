import Foundation
import Formats
import TensorCore

/// Writing the output: the checkpoint (HF directory or GGUF file), its side files and the manifest file.
extension MoEModelWriter {
    /// Writes the MoE model to `output` (an HF directory, or a GGUF file) and its manifest, and returns the
    /// manifest. Each file is written atomically (temporary file + rename); nothing is written when validation
    /// found problems.
    ///
    /// The source files are hashed on background threads (`SHA256.BackgroundFiles`) while the tensors are
    /// written. The headers are first written with pending digests (64 `0` characters, the length of a hex
    /// digest, so the manifest text keeps its byte length) and overwritten with the final digests before each
    /// file is committed, so no file is renamed into place with pending digests. The standalone manifest file is
    /// written last.
    @discardableResult
    public func write(to output: String, progress: ConversionProgressHandler? = nil) throws -> JSONValue {
        if let problem = problems.first { throw problem }
        let hashing = SHA256.BackgroundFiles(files: source.files)
        let pendingJSON = try manifest(sourceDigests: Array(repeating: SHA256.BackgroundFiles.pendingDigest, count: source.files.count))
        let pendingText = JSONWriter.serialize(pendingJSON)
        var finalJSON: JSONValue?
        /// The manifest with the real digests (waits for the hashing once).
        func finalManifest() throws -> JSONValue {
            if let finalJSON { return finalJSON }
            guard case .object(var object) = pendingJSON else { preconditionFailure("the manifest is an object") }
            object["sources"] = sourceRecords(try hashing.wait())
            finalJSON = .object(object)
            return .object(object)
        }
        switch format {
        case .gguf:
            let tensors = try ggufTensors(cache: LayerCache())
            let metadata = try ggufMetadata(extra: [(Manifest.ggufKey, .string(pendingText))])
            try GGUFWriter.write(
                path: output, metadata: metadata, tensors: withProgress(tensors, progress),
                finalizeMetadata: {
                    var final = metadata
                    final[Manifest.ggufKey] = .string(JSONWriter.serialize(try finalManifest()))
                    return final
                })
        case .safetensors:
            let tensors = try hfTensors(cache: LayerCache())
            try PathUtilities.createDirectory(output)
            try ShardedSafetensorsWriter.write(
                directory: output, tensors: withProgress(tensors, progress), maxShardSize: 5_000_000_000,
                metadata: [("format", "pt"), (Manifest.safetensorsKey, pendingText)],
                finalizeMetadata: { [("format", "pt"), (Manifest.safetensorsKey, JSONWriter.serialize(try finalManifest()))] })
            func writeJSON(_ name: String, _ value: JSONValue) throws {
                try AtomicFileWriter.write(JSONWriter.bytes(value, indent: 2) + [0x0A], to: PathUtilities.join(output, name))
            }
            try writeJSON("config.json", outputConfig())
            try writeTokenizerFiles(output)
        }
        let manifestJSON = try finalManifest()
        try AtomicFileWriter.write(
            JSONWriter.bytes(manifestJSON, indent: 2) + [0x0A], to: Manifest.path(forOutput: output, isDirectory: format == .safetensors))
        return manifestJSON
    }

    /// Tokenizer files: copied from an HF source, produced from GGUF metadata as `moekit convert` does.
    func writeTokenizerFiles(_ directory: String) throws {
        if source.format == "huggingface" {
            for name in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "tokenizer.model"] {
                let from = PathUtilities.join(source.path, name)
                if PathUtilities.exists(from) {
                    try AtomicFileWriter.write(try PathUtilities.readBytes(from), to: PathUtilities.join(directory, name))
                }
            }
            return
        }
        guard let tokenizer = source.tokenizer else { return }
        func writeJSON(_ name: String, _ value: JSONValue) throws {
            try AtomicFileWriter.write(JSONWriter.bytes(value, indent: 2) + [0x0A], to: PathUtilities.join(directory, name))
        }
        var generation = JSONObject([("_from_model_config", .bool(true))])
        if let bos = tokenizer.bosID { generation["bos_token_id"] = .integer(Int64(bos)) }
        if let eos = tokenizer.eosID { generation["eos_token_id"] = .integer(Int64(eos)) }
        try writeJSON("generation_config.json", .object(generation))
        if tokenizer.isByteLevelBPE {
            try writeJSON("tokenizer.json", try tokenizer.tokenizerJSON(preTokenizers: preTokenizers, path: source.path))
            let maxLength = source.config["max_position_embeddings"]?.intValue.map(Int.init)
            try writeJSON("tokenizer_config.json", tokenizer.tokenizerConfigJSON(maxLength: maxLength))
            try writeJSON("special_tokens_map.json", tokenizer.specialTokensMapJSON())
        }
    }
}
