import Conversion
import Formats
import IOCore
import Runtime
import TensorCore

/// A model opened for training: its configuration, decoder and parameters in a caller-owned buffer, plus what a
/// checkpoint of it must carry besides the weights (the source's config.json, tokenizer and generation files), so a
/// checkpoint is a Hugging Face directory that `eval`, `verify`, `convert` and `inspect` read unchanged.
public final class TrainableModel {
    public let path: String
    /// The source's config.json (synthesised from GGUF metadata for a GGUF source), written with each checkpoint; with
    /// the family recipe's `auto_map` when it has remote code.
    public let configJSON: JSONValue
    public let config: ModelConfig
    public let decoder: Decoder
    public let parameters: ParameterBuffer
    public let tokenizer: TokenizerData?
    /// Tokenizer and generation files (copied from an HF source, produced from a GGUF vocabulary) and the family
    /// recipe's remote-code files (LLaMA-MoE's modelling code for transformers).
    public let sideFiles: [HuggingFaceDirectoryWriter.SideFile]

    /// Opens a `.gguf` file or an HF directory; weights are decoded to F32 into the parameter buffer.
    public init(path: String, recipesDirectory: String? = nil) throws {
        let directory = try RecipeLibrary.locateDirectory(explicit: recipesDirectory)
        let preTokenizers = try PreTokenizerTable(convertersDirectory: directory)
        let library = try RecipeLibrary(directory: directory)
        let source = try ModelSource(path: path, recipes: library, preTokenizers: preTokenizers)
        let recipe = try library.recipe(hfConfig: source.config)
        self.path = path
        var json = source.config
        if var object = json.objectValue {
            HuggingFaceConfigFacts.setStoredFloatType(.f32, in: &object)
            json = .object(recipe.applyingAutoMap(to: object))
        }
        configJSON = json
        config = try ModelConfig(json: source.config)
        parameters = try ParameterBuffer(config: config, source: source)
        decoder = Decoder(config: config, layout: parameters.layout)
        tokenizer = source.tokenizer
        sideFiles = try (source.format == "huggingface"
            ? HuggingFaceSideFiles.copied(from: path)
            : HuggingFaceSideFiles.fromTokenizer(
                source.tokenizer, preTokenizers: preTokenizers, path: path,
                maxLength: source.configFacts.trainedContext))
            + recipe.remoteCodeFiles()
    }

    /// SHA-256 of the layout (every tensor's name and shape) and the config's shape fields: what a resumed run must
    /// match. Two models of the same architecture and size share it; a different model does not.
    public var fingerprint: String { Self.fingerprint(of: parameters.layout, config: config) }

    static func fingerprint(of layout: ParameterLayout, config: ModelConfig) -> String {
        var text = "hidden=\(config.hiddenSize) layers=\(config.layerCount) heads=\(config.headCount)/\(config.kvHeadCount) vocab=\(config.vocabularySize)\n"
        for (name, slice) in layout.names { text += "\(name) \(slice.shape.map(String.init).joined(separator: "x"))\n" }
        return SHA256.hex(Array(text.utf8))
    }

    /// Every tensor of `buffer` (this model's layout) as F32 safetensors tensors under the checkpoint's names, each
    /// name followed by `suffix` (`.exp_avg` for optimizer moments).
    public func tensors(of buffer: ParameterBuffer, suffix: String = "") -> [OutputTensor] {
        buffer.layout.names.map { name, slice in
            OutputTensor(name: name + suffix, shape: slice.shape, encoding: .dense(.f32), byteCount: slice.count * 4) { writer in
                try writer.write(UnsafeRawBufferPointer(buffer.values(of: slice)))
            }
        }
    }
}
