/// Errors converting between checkpoint formats. Each names the input file and the field or tensor at fault.
public enum ConversionError: Error, CustomStringConvertible, Equatable {
    case missingConfigValue(path: String, field: String)
    case invalidConfigValue(path: String, field: String, expected: String, found: String)
    case missingTensor(path: String, tensor: String)
    case unexpectedTensor(path: String, tensor: String, hint: String)
    case shapeMismatch(path: String, tensor: String, expected: [Int], found: [Int])
    case unsupportedOutputType(tensor: String, type: String, reason: String)
    case notADirectory(path: String)
    case unsupportedInput(path: String, reason: String)
    case tokenizer(path: String, field: String, problem: String)
    case outputExists(path: String)
    case noGGUFArchitecture(recipe: String, reason: String)

    public var description: String {
        switch self {
        case .missingConfigValue(let p, let f): return "\(p): required field '\(f)' is missing"
        case .invalidConfigValue(let p, let f, let e, let found): return "\(p): field '\(f)': expected \(e), found \(found)"
        case .missingTensor(let p, let t): return "\(p): required tensor '\(t)' is missing"
        case .unexpectedTensor(let p, let t, let hint): return "\(p): tensor '\(t)' is not part of the architecture recipe\(hint.isEmpty ? "" : " (\(hint))")"
        case .shapeMismatch(let p, let t, let e, let f): return "\(p): tensor '\(t)': expected shape \(e) from the config, found \(f)"
        case .unsupportedOutputType(let t, let ty, let r): return "tensor '\(t)': cannot write as \(ty): \(r)"
        case .notADirectory(let p): return "\(p): expected a Hugging Face model directory"
        case .unsupportedInput(let p, let r): return "\(p): \(r)"
        case .tokenizer(let p, let f, let problem): return "\(p): tokenizer field '\(f)': \(problem)"
        case .noGGUFArchitecture(let r, let reason): return "recipe '\(r)' has no GGUF form: \(reason)"
        case .outputExists(let p): return "\(p): output already exists and is not a directory moekit can write into"
        }
    }
}
