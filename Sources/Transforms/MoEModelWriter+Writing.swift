import Conversion
import Formats
import Foundation
import IOCore
import TensorCore

/// Writing the output: the checkpoint (HF directory or GGUF file), its side files and the manifest file.
extension MoEModelWriter {
    /// Writes the MoE model to `output` (an HF directory, or a GGUF file) and its manifest, and returns the
    /// manifest. Nothing is written when validation found problems; config, tokenizer files and the destination are
    /// checked before the first byte. An HF directory is built beside `output` and committed as a whole
    /// (`HuggingFaceDirectoryWriter`, manifest file inside, with the target recipe's remote-code files); a GGUF file
    /// is written atomically (temporary file + rename) and its manifest file after it.
    ///
    /// The source files are hashed on background threads (`SHA256.BackgroundFiles`) while the tensors are
    /// written. The headers are first written with pending digests (64 `0` characters, the length of a hex
    /// digest, so the manifest text keeps its byte length) and overwritten with the final digests before each
    /// file is committed, so no file is renamed into place with pending digests.
    /// - Parameter replaceExisting: replace an existing output (`--force`); otherwise it is refused.
    @discardableResult
    public func write(
        to output: String, progress: ConversionProgressHandler? = nil, replaceExisting: Bool = false
    ) throws -> JSONValue {
        if let problem = problems.first { throw problem }
        try OutputSafety.checkReplaceable(output: output, force: replaceExisting, directoryOutput: format == .safetensors)
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
                }, replaceExisting: replaceExisting)
            try AtomicFileWriter.write(
                JSONWriter.bytes(try finalManifest(), indent: 2) + [0x0A], to: Manifest.path(forOutput: output, isDirectory: false))
        case .safetensors:
            let tensors = try hfTensors(cache: LayerCache())
            let files = [HuggingFaceDirectoryWriter.SideFile(name: "config.json", json: outputConfig())] + (try tokenizerFiles())
                + (try recipe.remoteCodeFiles())
            try HuggingFaceDirectoryWriter(destination: output, replaceExisting: replaceExisting).write(
                tensors: withProgress(tensors, progress), maxShardSize: maxShardSize,
                metadata: [("format", "pt"), (Manifest.safetensorsKey, pendingText)],
                finalizeMetadata: { [("format", "pt"), (Manifest.safetensorsKey, JSONWriter.serialize(try finalManifest()))] },
                files: files,
                finalFiles: { [HuggingFaceDirectoryWriter.SideFile(name: Manifest.fileName, json: try finalManifest())] })
        }
        return try finalManifest()
    }

    /// Tokenizer files: copied from an HF source, produced from GGUF metadata as `moekit convert` does.
    func tokenizerFiles() throws -> [HuggingFaceDirectoryWriter.SideFile] {
        if source.format == "huggingface" { return try HuggingFaceSideFiles.copied(from: source.path) }
        guard let tokenizer = source.tokenizer else { return [] }
        return try HuggingFaceSideFiles.fromTokenizer(
            tokenizer, preTokenizers: preTokenizers, path: source.path,
            maxLength: source.configFacts.trainedContext)
    }
}
