import Conversion
import Formats
import TensorCore

/// Where parameters come from: tensors by Hugging Face name, in HF layout, decoded to `Float`.
public protocol WeightSource {
    /// Whether the checkpoint has a tensor called `name`.
    func contains(_ name: String) -> Bool
    /// The tensor called `name`, decoded to `Float`.
    func floats(_ name: String) throws -> FloatTensor
}

/// GGUF files and HF directories opened by the I/O layer (Q/K rows already in rotate-half order).
extension ModelSource: WeightSource {}

/// A safetensors checkpoint read as it is (HF names), for model types the conversion recipes do not cover
/// (Mixtral, Qwen2-MoE and LLaMA-MoE directories) and for test fixtures.
public struct SafetensorsWeights: WeightSource {
    public let checkpoint: SafetensorsCheckpoint

    public init(_ checkpoint: SafetensorsCheckpoint) { self.checkpoint = checkpoint }

    public func contains(_ name: String) -> Bool { checkpoint.tensor(named: name) != nil }

    public func floats(_ name: String) throws -> FloatTensor {
        guard let view = checkpoint.tensor(named: name) else { throw RuntimeError.missingTensor(name) }
        return try view.floatTensor()
    }
}
