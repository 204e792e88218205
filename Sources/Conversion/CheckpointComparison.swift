import Formats
import IOCore
/// Opens any checkpoint moekit reads and exposes its tensors.
public struct OpenedCheckpoint: @unchecked Sendable {
    public let path: String
    public let format: String
    public let tensors: [TensorView]
    /// Keeps the underlying files mapped.
    public let owner: AnyObject

    /// Opens a `.gguf` file, a `.safetensors` file, an index file or a Hugging Face directory.
    public static func open(_ path: String) throws -> OpenedCheckpoint {
        if !PathUtilities.isDirectory(path), !path.hasSuffix(".index.json"), try CheckpointInspection.isGGUF(path) {
            let file = try GGUFFile(path: path)
            return OpenedCheckpoint(path: path, format: "gguf", tensors: file.tensors, owner: file)
        }
        let checkpoint = try SafetensorsCheckpoint(path: path)
        return OpenedCheckpoint(path: path, format: "safetensors", tensors: checkpoint.tensors, owner: checkpoint)
    }
}

/// One tensor as `CheckpointComparison` sees it: a name, a shape and its values on request.
public struct ComparableTensor {
    public let name: String
    public let shape: [Int]
    /// Decodes the values (row-major, in `shape`).
    public let decode: () throws -> [Float]

    public init(name: String, shape: [Int], decode: @escaping () throws -> [Float]) {
        self.name = name
        self.shape = shape
        self.decode = decode
    }

    /// The tensors of a checkpoint under their stored names.
    public static func stored(_ checkpoint: OpenedCheckpoint) -> [ComparableTensor] {
        checkpoint.tensors.map { tensor in ComparableTensor(name: tensor.name, shape: tensor.shape, decode: { try tensor.floats() }) }
    }

    /// The tensors of a GGUF file under their Hugging Face names and in HF layout (Q/K rows un-permuted, stacked
    /// experts split, shapes as HF stores them), through the recipe of its architecture; for comparing a GGUF with
    /// an HF checkpoint. Tensors with no HF counterpart (llama.cpp's `rope_freqs`) are left out.
    /// - Throws: `ConversionError`/`RecipeError` when the file has no architecture or the recipe does not fit it.
    public static func huggingFaceNamed(_ gguf: GGUFFile, recipes: RecipeLibrary, preTokenizers: PreTokenizerTable) throws -> [ComparableTensor] {
        let converter = try GGUFToHuggingFace(gguf: gguf, recipes: recipes, preTokenizers: preTokenizers)
        let (_, dimensions) = try converter.configValues()
        return try converter.hfNamedSources(dimensions: dimensions).map { source in
            let transcoder = source.transcoder(to: .dense(.f32))
            return ComparableTensor(name: source.hfName, shape: source.tensor.shape, decode: { try transcoder.floats() })
        }
    }
}

/// Compares the decoded values of the same-named tensors of two checkpoints.
public struct CheckpointComparison: Sendable {
    /// Per-tensor result.
    public struct TensorDifference: Sendable {
        public let name: String
        public let maxAbsoluteDifference: Float
        public let shapesMatch: Bool
    }

    public let onlyInFirst: [String]
    public let onlyInSecond: [String]
    public let differences: [TensorDifference]

    /// Largest |a − b| over all shared tensors (infinity when a shape differs).
    public var maxAbsoluteDifference: Float {
        differences.reduce(0) { max($0, $1.shapesMatch ? $1.maxAbsoluteDifference : .infinity) }
    }

    /// Whether both have the same tensor names, shapes and values.
    public var identical: Bool { onlyInFirst.isEmpty && onlyInSecond.isEmpty && maxAbsoluteDifference == 0 }

    /// Decodes each shared tensor of `first` and `second` (one pair at a time) and compares values.
    public static func compare(_ first: OpenedCheckpoint, _ second: OpenedCheckpoint) throws -> CheckpointComparison {
        try compare(ComparableTensor.stored(first), ComparableTensor.stored(second))
    }

    /// Compares two tensor lists by name (one pair decoded at a time).
    public static func compare(_ first: [ComparableTensor], _ second: [ComparableTensor]) throws -> CheckpointComparison {
        let secondByName = Dictionary(second.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let firstNames = Set(first.map(\.name))
        var differences: [TensorDifference] = []
        for tensor in first {
            guard let other = secondByName[tensor.name] else { continue }
            guard tensor.shape == other.shape else {
                differences.append(TensorDifference(name: tensor.name, maxAbsoluteDifference: .infinity, shapesMatch: false))
                continue
            }
            let a = try tensor.decode()
            let b = try other.decode()
            var worst: Float = 0
            for i in a.indices {
                let d = abs(a[i] - b[i])
                if d > worst || d.isNaN { worst = d.isNaN ? (a[i].isNaN && b[i].isNaN ? worst : .infinity) : d }
            }
            differences.append(TensorDifference(name: tensor.name, maxAbsoluteDifference: worst, shapesMatch: true))
        }
        return CheckpointComparison(
            onlyInFirst: first.map(\.name).filter { secondByName[$0] == nil },
            onlyInSecond: second.map(\.name).filter { !firstNames.contains($0) },
            differences: differences)
    }
}
