import Conversion
import Formats
import Foundation
import TensorCore

/// Tensor encoding: planned tensors as safetensors or streamed GGUF tensors in the output type.
extension MoEModelWriter {
    /// Encodes a planned tensor's values as `type` (F32/F16/BF16), reading the block from `cache`.
    func encoded(_ tensor: PlannedTensor, as type: DType, cache: LayerCache) throws -> [UInt8] {
        let floats: [Float]
        switch tensor.content {
        case .source(let name): floats = try source.floats(name).values
        case .filled(let value): floats = [Float](repeating: value, count: tensor.shape.reduce(1, *))
        case .block(let l, _, _, let values):
            if cache.layer != l {
                cache.block = nil
                cache.block = try moe(l)
                cache.layer = l
            }
            floats = values(cache.block!)
        }
        return Self.encode(floats, as: type)
    }

    /// safetensors output: every planned tensor in `dtype`; source tensors stream through their transcoder.
    func hfTensors(cache: LayerCache) throws -> [OutputTensor] {
        let encoding = TensorEncoding.dense(dtype)
        return try plannedTensors().map { tensor in
            if case .source(let name) = tensor.content, let transcoder = source.transcoder(name, to: encoding) {
                return try transcoder.outputTensor(name: tensor.name)
            }
            let bytes = encoding.byteCount(elements: tensor.shape.reduce(1, *))!
            return OutputTensor(name: tensor.name, shape: tensor.shape, encoding: encoding, byteCount: bytes) { writer in
                try self.write(tensor, as: self.dtype, cache: cache, into: writer)
            }
        }
    }

    /// GGUF output, in recipe order: stacked experts written back to back in expert order, norms/1-D/router F32,
    /// Q/K rows in the target's RoPE layout, shapes from `gguf_ne` where given, and a copy of the embeddings as
    /// `output.weight` when the source is tied and the architecture requires the tensor.
    /// - Throws: `ConversionError.shapeMismatch` when a tensor cannot take the GGUF shape (e.g. OLMoE k_norm with
    ///   n_head_kv ≠ n_head).
    func ggufTensors(cache: LayerCache) throws -> [OutputTensor] {
        let dimensions = try outputDimensions()
        let planned = try plannedTensors()
        let byName = Dictionary(planned.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var outputs: [OutputTensor] = []
        for (mapping, layer) in RecipeTensorOrder.expand(recipe.tensors, blocks: layers) {
            let ggufName = mapping.ggufName(layer: layer, expert: nil)
            let parts: [PlannedTensor]
            if mapping.stackExperts {
                parts = (0..<experts).compactMap { byName[mapping.hfName(layer: layer, expert: $0)] }
            } else if let tensor = byName[mapping.hfName(layer: layer, expert: nil)] {
                parts = [tensor]
            } else if let tied = recipe.tiedEmbeddings, tied.ggufOutputRequired, tied.hfOutput == mapping.hf,
                let embedding = recipe.tensors(role: .embedding).first, let tensor = byName[embedding.hf]
            {
                parts = [tensor]
            } else {
                continue
            }
            guard !parts.isEmpty else { continue }
            let shape = try mapping.ggufShape(dimensions)
            let elements = parts.reduce(0) { $0 + $1.shape.reduce(1, *) }
            guard shape.reduce(1, *) == elements else {
                throw ConversionError.shapeMismatch(
                    path: "target \(recipe.name) (\(recipe.ggufArchitecture))", tensor: ggufName, expected: Array(shape.reversed()),
                    found: Array(parts[0].shape.reversed()))
            }
            let type: DType = mapping.keepF32 || shape.count < 2 ? .f32 : dtype
            let encoding = TensorEncoding.dense(type)
            if parts.count == 1, case .source(let name) = parts[0].content, let stored = source.transcoder(name, to: encoding) {
                outputs.append(try ggufTranscoder(stored, mapping: mapping, dimensions: dimensions).outputTensor(name: ggufName, shape: shape))
                continue
            }
            outputs.append(OutputTensor(name: ggufName, shape: shape, encoding: encoding, byteCount: elements * type.byteSize) { writer in
                for part in parts { try self.write(part, as: type, cache: cache, into: writer) }
            })
        }
        return outputs
    }

    /// A source tensor's transcoder with the rows in the target's layout: a GGUF source's RoPE permutation and the
    /// target's cancel; an HF source gets the HF → GGUF permutation where the recipe asks for it.
    private func ggufTranscoder(
        _ stored: TensorTranscoder, mapping: ArchitectureRecipe.TensorMapping, dimensions: DimensionResolver
    ) throws -> TensorTranscoder {
        guard let headsField = mapping.ropePermuteHeads else { return stored }
        if stored.permutation != nil { return TensorTranscoder(source: stored.source, target: stored.target) }
        let permutation = RopeRowPermutation(heads: try dimensions.evaluate(headsField), rows: stored.source.shape.first ?? 0)
        guard permutation.isValid else {
            throw ConversionError.shapeMismatch(path: source.path, tensor: stored.source.name, expected: [], found: stored.source.shape)
        }
        return TensorTranscoder(source: stored.source, target: stored.target, permutation: (permutation, .hfToGGUF))
    }

    /// `values` encoded as `type` (F32/F16/BF16).
    static func encode(_ values: [Float], as type: DType) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: values.count * type.byteSize)
        values.withUnsafeBufferPointer { src in
            bytes.withUnsafeMutableBytes { DenseCodec.encode(type, from: src.baseAddress!, into: $0.baseAddress!, count: values.count) }
        }
        return bytes
    }

    /// The second router of the LLaMA-MoE layout: the `[N, N]` identity, so that `tanh(router · x)` is unchanged.
    static func identityRouter2(_ n: Int) -> [Float] { (0..<(n * n)).map { $0 % (n + 1) == 0 ? 1 : 0 } }
}
