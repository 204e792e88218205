import Formats
import Foundation
import IOCore
import TensorCore

/// The float type a checkpoint's weights are stored in, the default output type of every writer: F32, F16 or BF16
/// as stored, F16 for a quantized source (so that dequantized weights are not blown up to F32).
public enum SourceFloatType {
    /// The type of the matrices (tensors of two or more dimensions) among `encodings`: F16 when any is quantized,
    /// else BF16, F16 or F32 by majority of elements; F32 when there are none.
    public static func of(_ tensors: [TensorView]) -> DType {
        var elements: [DType: Int] = [:]
        for tensor in tensors where tensor.shape.count >= 2 {
            switch tensor.encoding.normalized {
            case .ggml(let type) where type.denseType == nil: return .f16
            case .ggml(let type): if let d = type.denseType, [.f32, .f16, .bf16].contains(d) { elements[d, default: 0] += tensor.elementCount }
            case .dense(let d) where [.f32, .f16, .bf16].contains(d): elements[d, default: 0] += tensor.elementCount
            default: break
            }
        }
        return elements.max { $0.value < $1.value || ($0.value == $1.value && $0.key.rawValue > $1.key.rawValue) }?.key ?? .f32
    }

    /// transformers' `torch_dtype` name of a float type.
    public static func torchName(_ dtype: DType) -> String {
        switch dtype {
        case .f16: return "float16"
        case .bf16: return "bfloat16"
        case .f64: return "float64"
        default: return "float32"
        }
    }
}

/// GGUF → GGUF: the same file with its tensors cast or requantized to one of the written types (F32, F16, BF16,
/// Q8_0, Q4_0, Q4_1). Metadata is copied (`general.file_type` and `general.quantization_version` follow the new
/// type); vectors and the recipe's `keep_f32` tensors stay F32, and rows that do not fill a quantization block fall
/// back to F16, as in HF → GGUF.
public struct GGUFRetype {
    /// The input file.
    public let gguf: GGUFFile
    /// The recipe of the file's architecture (for `keep_f32`).
    public let recipe: ArchitectureRecipe

    /// Opens `gguf` with the recipe of its `general.architecture`.
    /// - Throws: `ConversionError.missingConfigValue` without an architecture, `RecipeError` when no recipe matches.
    public init(gguf: GGUFFile, recipes: RecipeLibrary) throws {
        guard let architecture = gguf.architecture else {
            throw ConversionError.missingConfigValue(path: gguf.path, field: "general.architecture")
        }
        self.gguf = gguf
        self.recipe = try recipes.recipe(ggufArchitecture: architecture, metadata: gguf.metadata)
    }

    /// The default output type: the source's float type (F16 for a quantized file).
    public func defaultOutputType() -> GGMLType { GGMLType(dense: SourceFloatType.of(gguf.tensors)) ?? .f16 }

    /// Whether the file carries a vocabulary (`tokenizer.ggml.model` other than `no_vocab`).
    public var hasVocabulary: Bool {
        guard let model = gguf.metadata["tokenizer.ggml.model"]?.stringValue else { return false }
        return model != "no_vocab" && model != "none"
    }

    /// Whether tensor `name` is stored F32 whatever the output type (a recipe entry with `keep_f32`).
    func keepsF32(_ name: String) -> Bool {
        recipe.tensors.contains { $0.keepF32 && !$0.gguf.contains("{E}") && NamePattern($0.gguf).match(name) != nil }
    }

    /// The output tensors in the file's order.
    /// - Throws: `ConversionError.unsupportedOutputType` for a type that is not written or a tensor that cannot be decoded.
    public func plannedTensors(type: GGMLType) throws -> [OutputTensor] {
        guard type.canQuantize else {
            throw ConversionError.unsupportedOutputType(tensor: "*", type: type.name, reason: "GGUF output supports F32, F16, BF16, Q8_0, Q4_0 and Q4_1")
        }
        return try gguf.tensors.map { tensor in
            var target: GGMLType = (tensor.shape.count < 2 || keepsF32(tensor.name)) ? .f32 : type
            if (tensor.shape.last ?? 1) % target.blockSize != 0 { target = .f16 }
            let encoding: TensorEncoding = target.denseType.map { .dense($0) } ?? .ggml(target)
            return try TensorTranscoder(source: tensor, target: encoding).outputTensor(name: tensor.name)
        }
    }

    /// Writes the retyped file atomically (temporary file + rename).
    /// - Parameter replaceExisting: replace an existing file (`--force`); otherwise it is refused.
    public func write(
        to path: String, type requested: GGMLType? = nil, progress: ConversionProgressHandler? = nil, replaceExisting: Bool = false
    ) throws {
        try OutputSafety.checkReplaceable(output: path, force: replaceExisting, directoryOutput: false)
        let type = requested ?? defaultOutputType()
        let tensors = try plannedTensors(type: type)
        var metadata = GGUFMetadata()
        for (key, value) in gguf.metadata.pairs where key != "general.quantization_version" { metadata[key] = value }
        metadata["general.file_type"] = .uint32(GGUFModelMetadata.fileType(type))
        if type.denseType == nil { metadata["general.quantization_version"] = .uint32(2) }
        let alignment = gguf.metadata["general.alignment"]?.intValue ?? 32
        try GGUFWriter.write(
            path: path, metadata: metadata, tensors: withProgress(tensors, progress), alignment: alignment,
            replaceExisting: replaceExisting)
    }
}

/// HF → HF: a Hugging Face directory with its float tensors cast to F32, F16 or BF16 and/or resharded. Integer
/// tensors are copied; config.json's `torch_dtype` follows the new type; tokenizer files, generation config and a
/// moekit manifest (file and `__metadata__` key) are carried over. A family whose recipe has remote code (LLaMA-MoE)
/// gets moekit's files and `auto_map`, replacing the source's.
public struct HuggingFaceRetype {
    /// The input directory.
    public let directory: String
    /// Its tensors.
    public let checkpoint: SafetensorsCheckpoint
    /// Its config.json.
    public let config: JSONValue
    /// The recipe of its family, when the library given to `init` has one.
    public let recipe: ArchitectureRecipe?

    /// Side files carried over besides `HuggingFaceSideFiles.copiedNames`.
    public static let extraSideFiles = ["moekit-manifest.json"]

    /// Opens `directory` (config.json and safetensors). With `recipes`, the directory's family is looked up by
    /// `model_type` / `architectures`; an architecture without a recipe is still retyped, as it is.
    /// - Throws: `ConversionError` naming config.json for a missing or malformed config, `SafetensorsError` for the weights.
    public init(directory: String, recipes: RecipeLibrary? = nil) throws {
        guard PathUtilities.isDirectory(directory) else { throw ConversionError.notADirectory(path: directory) }
        let configPath = PathUtilities.join(directory, "config.json")
        guard PathUtilities.exists(configPath) else { throw ConversionError.missingConfigValue(path: configPath, field: "(file)") }
        let parsed: JSONValue
        do { parsed = try JSONParser.parse(try PathUtilities.readBytes(configPath)) } catch {
            throw ConversionError.invalidConfigValue(path: configPath, field: "(document)", expected: "a JSON object", found: "\(error)")
        }
        guard parsed.objectValue != nil else {
            throw ConversionError.invalidConfigValue(path: configPath, field: "(document)", expected: "a JSON object", found: parsed.typeName)
        }
        self.directory = directory
        self.config = parsed
        self.checkpoint = try SafetensorsCheckpoint(path: directory)
        do { recipe = try recipes?.recipe(hfConfig: parsed) } catch RecipeError.unknownArchitecture { recipe = nil }
    }

    /// The default output type: the source's float type.
    public func defaultOutputType() -> DType { SourceFloatType.of(checkpoint.tensors) }

    /// Writes the new directory as a whole (`HuggingFaceDirectoryWriter`).
    /// - Throws: `ConversionError.unsupportedOutputType` for a type other than F32, F16 or BF16; what the writer throws.
    @discardableResult
    public func write(
        to output: String, dtype requested: DType? = nil, maxShardSize: Int = 5_000_000_000,
        progress: ConversionProgressHandler? = nil, replaceExisting: Bool = false
    ) throws -> [String] {
        let dtype = requested ?? defaultOutputType()
        guard [.f32, .f16, .bf16].contains(dtype) else {
            throw ConversionError.unsupportedOutputType(tensor: "*", type: dtype.rawValue, reason: "HF output supports F32, F16 and BF16")
        }
        let destination = HuggingFaceDirectoryWriter(destination: output, replaceExisting: replaceExisting)
        try destination.checkDestination()
        let tensors = try checkpoint.tensors.map { tensor -> OutputTensor in
            let isFloat: Bool
            switch tensor.encoding.normalized {
            case .dense(let d): isFloat = d.isFloatingPoint
            case .ggml: isFloat = true
            }
            return try TensorTranscoder(source: tensor, target: isFloat ? .dense(dtype) : tensor.encoding).outputTensor(name: tensor.name)
        }
        var newConfig = config.objectValue ?? JSONObject()
        newConfig["torch_dtype"] = .string(SourceFloatType.torchName(dtype))
        if newConfig["dtype"] != nil { newConfig["dtype"] = .string(SourceFloatType.torchName(dtype)) }
        if let recipe { newConfig = recipe.applyingAutoMap(to: newConfig) }
        var files = [HuggingFaceDirectoryWriter.SideFile(name: "config.json", json: .object(newConfig))]
        files += try HuggingFaceSideFiles.copied(from: directory)
        files += try recipe?.remoteCodeFiles() ?? []
        for name in Self.extraSideFiles where PathUtilities.exists(PathUtilities.join(directory, name)) {
            files.append(.init(name: name, bytes: try PathUtilities.readBytes(PathUtilities.join(directory, name))))
        }
        var metadata: [(key: String, value: String)] = checkpoint.metadata.filter { $0.key != "format" }
        metadata.insert(("format", "pt"), at: 0)
        return try destination.write(
            tensors: withProgress(tensors, progress), maxShardSize: maxShardSize, metadata: metadata, files: files)
    }
}
