/// Why a training run cannot start or go on. Every message names the file or option and what was expected.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// An option (a flag, a config-file key, a saved option) with a value of the wrong kind.
    case invalidOption(source: String, key: String, expected: String, found: String)
    case missingOption(source: String, key: String)
    /// A config file that cannot be parsed (`line`/`column` 1-based where known) or does not match the schema.
    case configSyntax(path: String, line: Int, column: Int, message: String)
    case configSchema(path: String, violations: [String])
    case cannotRead(path: String, reason: String)
    /// A batch file that is not what `--batch-file` takes.
    case invalidBatchFile(path: String, problem: String)
    /// The model cannot be trained as asked.
    case unsupported(String)
    /// `--resume` found nothing to resume, or a run of another model or with other options.
    case resumeMismatch(directory: String, problem: String)
    /// The run directory exists and `--resume`/`--force` was not given.
    case runExists(path: String)
    /// A checkpoint that cannot be read back.
    case invalidCheckpoint(path: String, problem: String)
    /// NaN or Inf appeared at `step` (1-based) in `tensor` (or the loss).
    case nonFinite(step: Int, tensor: String)

    public var description: String {
        switch self {
        case .invalidOption(let source, let key, let expected, let found):
            return "\(source): \(key) must be \(expected), found \(found)"
        case .missingOption(let source, let key):
            return "\(source): \(key) is required"
        case .configSyntax(let path, let line, let column, let message):
            return "\(path):\(line):\(column): \(message)"
        case .configSchema(let path, let violations):
            return "\(path): does not match Schemas/train.schema.json:\n  " + violations.joined(separator: "\n  ")
        case .cannotRead(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .invalidBatchFile(let path, let problem):
            return "\(path): \(problem) (a batch file holds tensor 'tokens', I32 [rows, seq + 1])"
        case .unsupported(let message):
            return message
        case .resumeMismatch(let directory, let problem):
            return "cannot resume \(directory): \(problem)"
        case .runExists(let path):
            return "\(path) exists already: pass --resume to continue that run or --force to start over"
        case .invalidCheckpoint(let path, let problem):
            return "\(path): \(problem)"
        case .nonFinite(let step, let tensor):
            return "step \(step): non-finite values in \(tensor); stopped (the last checkpoint is kept)"
        }
    }
}
