/// Errors of the model runtime. Each case names what was wrong and where.
public enum RuntimeError: Error, CustomStringConvertible, Equatable {
    /// A required config.json field is absent.
    case missingConfigField(String)
    /// A config.json field has the wrong type or an unsupported value.
    case invalidConfigField(field: String, expected: String, found: String)
    /// A tensor the configuration requires is absent from the checkpoint.
    case missingTensor(String)
    /// A tensor has a different shape than the configuration implies.
    case shapeMismatch(tensor: String, expected: [Int], found: [Int])
    /// A token id outside `0..<vocabularySize`.
    case tokenOutOfRange(token: Int32, vocabularySize: Int)
    /// More tokens than the cache (or the model's context) holds.
    case contextOverflow(needed: Int, capacity: Int)
    /// An empty input where at least one token is needed.
    case emptyInput(String)
    /// A model feature an operation does not handle (e.g. a training forward on an inference workspace).
    case unsupported(String)
    /// A router estimator (`RouterEstimator`) used with a model or options it is not defined for: the message names
    /// the model's routing and what the estimator requires.
    case unsupportedRouterEstimator(String)

    public var description: String {
        switch self {
        case .missingConfigField(let field): return "config.json: missing field '\(field)'"
        case .invalidConfigField(let field, let expected, let found):
            return "config.json: field '\(field)' must be \(expected), found \(found)"
        case .missingTensor(let name): return "checkpoint: missing tensor '\(name)'"
        case .shapeMismatch(let tensor, let expected, let found):
            return "checkpoint: tensor '\(tensor)' has shape \(found), expected \(expected)"
        case .tokenOutOfRange(let token, let vocabularySize):
            return "token id \(token) is outside the vocabulary (0..<\(vocabularySize))"
        case .contextOverflow(let needed, let capacity):
            return "\(needed) tokens do not fit the context of \(capacity) tokens"
        case .emptyInput(let what): return "empty input: \(what)"
        case .unsupported(let what): return what
        case .unsupportedRouterEstimator(let what): return what
        }
    }
}
