/// Errors of the model-level MoE writer.
public enum MoEWriterError: Error, CustomStringConvertible, Sendable, Equatable {
    case unknownTarget(String, known: [String])
    case invalidTarget(String, problem: String)
    case notLlama(path: String, missing: String)
    case unsupportedByTarget(String, option: String, reason: String)
    case noGGUF(target: String, reason: String)
    case inconsistentLayers(field: String, first: String, layer: Int, found: String)
    case layerCount(expected: Int, found: Int)
    case notASplit(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unknownTarget(name, known):
            return "unknown MoE target '\(name)' (known: \(known.joined(separator: ", ")); targets are recipes in Converters/ with expert_count and a moe section)"
        case let .invalidTarget(path, problem):
            return "\(path): not a usable MoE target recipe: \(problem)"
        case let .notLlama(path, missing):
            return "\(path): not a LLaMA-style dense model (missing \(missing))"
        case let .unsupportedByTarget(target, option, reason):
            return "\(option) cannot be expressed in the \(target) layout: \(reason)"
        case let .noGGUF(target, reason):
            return "--format gguf is not available for target \(target): \(reason)"
        case let .inconsistentLayers(field, first, layer, found):
            return "every sparse layer must have the same \(field): the first has \(first), layer \(layer) has \(found)"
        case let .layerCount(expected, found):
            return "one layer plan per layer is needed: the model has \(expected) layers, \(found) plans were given"
        case let .notASplit(path, reason):
            return "\(path): cannot merge back into a dense model: \(reason)"
        }
    }
}
