import Conversion
import Formats
import Foundation
import IOCore
import TensorCore

/// `moekit merge-dense`: the inverse of a non-overlapping split. Each layer's experts are concatenated back in the
/// manifest's neuron order (gate/up rows, down columns), the router is dropped, and the dense config recorded in
/// the manifest is written back. A split without rescaling gives back the dense weights bit for bit; a folded
/// scale s is divided out of down (then only up to rounding).
public enum DenseMerge {
    /// Writes the dense HF directory `output` as a whole (`HuggingFaceDirectoryWriter`): weights, config.json, and the
    /// tokenizer and generation files of the MoE model (copied from an HF directory, produced from a GGUF vocabulary).
    /// Tensors that exist only for routing (the recipe's `router`/`router2` entries and the tensors it synthesizes
    /// for the MoE layout, such as LLaMA-MoE's `gate_network.2` and `weight_noise`) are not written.
    /// - Parameters:
    ///   - dtype: output type (F32, F16 or BF16); nil keeps the dense model's `torch_dtype` recorded in the manifest.
    ///   - maxShardSize: largest safetensors shard in bytes.
    ///   - replaceExisting: replace an existing output (`--force`); otherwise it is refused.
    public static func write(
        moePath: String, output: String, recipesDirectory: String? = nil, dtype requested: DType? = nil,
        maxShardSize: Int = 5_000_000_000, replaceExisting: Bool = false
    ) throws {
        let destination = HuggingFaceDirectoryWriter(destination: output, replaceExisting: replaceExisting)
        try destination.checkDestination()
        guard let manifest = try Manifest.read(modelPath: moePath) else {
            throw MoEWriterError.notASplit(path: moePath, reason: "no moekit manifest (\(Manifest.fileName), __metadata__ or GGUF key)")
        }
        guard manifest["operation"]?.stringValue == "split", let experts = manifest["experts"]?.intValue.map(Int.init),
            let layers = manifest["layers"]?.arrayValue, let denseConfig = manifest["source_config"], denseConfig.objectValue != nil
        else { throw MoEWriterError.notASplit(path: moePath, reason: "the manifest does not describe a split") }
        let directory = try RecipeLibrary.locateDirectory(explicit: recipesDirectory)
        let library = try RecipeLibrary(directory: directory)
        let source = try ModelSource(path: moePath, recipes: library, preTokenizers: try PreTokenizerTable(convertersDirectory: directory))
        let recipe = try library.recipe(hfConfig: source.config)
        guard recipe.expertCountField != nil else { throw MoEWriterError.notASplit(path: moePath, reason: "not an MoE layout") }
        let routerMapping = recipe.tensor(role: .router)
        let routingOnly = recipe.tensors.filter { mapping in
            mapping.perLayer && !mapping.perExpert
                && (mapping.moeRole == .router || mapping.moeRole == .router2 || (mapping.role == nil && mapping.synthesize != nil))
        }.flatMap { [$0.hf] + $0.hfAlternatives }.map { NamePattern($0) }
        let denseRecipe = try library.recipe(hfConfig: denseConfig)
        let denseFacts = HuggingFaceConfigFacts(json: denseConfig, recipe: denseRecipe)
        let denseMappings: [String: ArchitectureRecipe.TensorMapping] = [
            "gate": denseRecipe.tensor(role: .denseGate), "up": denseRecipe.tensor(role: .denseUp), "down": denseRecipe.tensor(role: .denseDown),
        ].compactMapValues { $0 }
        guard denseMappings.count == 3 else {
            throw MoEWriterError.notASplit(path: moePath, reason: "the manifest's dense family \(denseRecipe.name) has no dense FFN tensors")
        }
        let expertMappings: [String: ArchitectureRecipe.TensorMapping] = [
            "gate": recipe.tensor(role: .expertGate), "up": recipe.tensor(role: .expertUp), "down": recipe.tensor(role: .expertDown),
        ].compactMapValues { $0 }
        var assignments: [[[Int]]] = []
        var scales: [Float] = []
        for (l, layer) in layers.enumerated() {
            guard let encoded = layer["assignment"], let lists = Manifest.decodeAssignment(encoded, experts: experts) else {
                throw MoEWriterError.notASplit(path: moePath, reason: "layer \(l) has no assignment")
            }
            let flat = lists.flatMap { $0 }
            guard Set(flat).count == flat.count else { throw MoEWriterError.notASplit(path: moePath, reason: "layer \(l) has overlapping experts") }
            assignments.append(lists)
            scales.append(Float(layer["score_scale"]?.doubleValue ?? 1))
        }
        let intermediate = assignments.first?.reduce(0) { $0 + $1.count } ?? 0
        let dtype: DType = requested ?? {
            denseFacts.storedFloatType ?? source.configFacts.storedFloatType ?? .f32
        }()
        let encoding = TensorEncoding.dense(dtype)
        var outputs: [OutputTensor] = []
        for name in source.tensorNames {
            if let routerMapping, let l = (0..<layers.count).first(where: { routerMapping.hfName(layer: $0, expert: nil) == name }) {
                let hidden = source.view(name)?.shape.last ?? 0
                for part in ["gate", "up", "down"] {
                    let shape = part == "down" ? [hidden, intermediate] : [intermediate, hidden]
                    let count = hidden * intermediate
                    outputs.append(OutputTensor(name: denseMappings[part]!.hfName(layer: l, expert: nil), shape: shape, encoding: encoding, byteCount: encoding.byteCount(elements: count)!) { writer in
                        var dense = [Float](repeating: 0, count: count)
                        for (e, neurons) in assignments[l].enumerated() {
                            guard let mapping = expertMappings[part] else { continue }
                            let expert = try source.floats(mapping.hfName(layer: l, expert: e)).values
                            let width = neurons.count
                            for (j, n) in neurons.enumerated() {
                                if part == "down" {
                                    for h in 0..<hidden {
                                        let v = expert[h * width + j]
                                        dense[h * intermediate + n] = scales[l] == 1 ? v : v / scales[l]
                                    }
                                } else {
                                    for h in 0..<hidden { dense[n * hidden + h] = expert[j * hidden + h] }
                                }
                            }
                        }
                        var bytes = [UInt8](repeating: 0, count: encoding.byteCount(elements: count)!)
                        dense.withUnsafeBufferPointer { src in
                            bytes.withUnsafeMutableBytes { DenseCodec.encode(dtype, from: src.baseAddress!, into: $0.baseAddress!, count: count) }
                        }
                        try writer.write(bytes)
                    })
                }
                continue
            }
            if routingOnly.contains(where: { $0.match(name) != nil }) { continue }
            if expertMappings.values.contains(where: { m in (0..<layers.count).contains { l in (0..<experts).contains { m.hfName(layer: l, expert: $0) == name } } }) {
                continue
            }
            guard let transcoder = source.transcoder(name, to: encoding) else { continue }
            outputs.append(try transcoder.outputTensor(name: name))
        }
        let preTokenizers = try PreTokenizerTable(convertersDirectory: directory)
        let sideFiles = source.format == "huggingface"
            ? try HuggingFaceSideFiles.copied(from: moePath)
            : try HuggingFaceSideFiles.fromTokenizer(
                source.tokenizer, preTokenizers: preTokenizers, path: moePath,
                maxLength: denseFacts.trainedContext)
        try destination.write(
            tensors: outputs, maxShardSize: maxShardSize,
            files: [HuggingFaceDirectoryWriter.SideFile(name: "config.json", json: denseFacts.settingStoredFloatType(dtype))] + sideFiles)
    }
}
