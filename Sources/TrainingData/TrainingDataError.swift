/// Errors raised while preparing, reading or sampling training data. Each names the file (and line, field or
/// domain) and what was expected.
public enum TrainingDataError: Error, CustomStringConvertible, Equatable, Sendable {
    /// An input file cannot be opened or read.
    case cannotRead(path: String, reason: String)
    /// A JSONL line is not valid JSON.
    case invalidJSON(path: String, line: Int, reason: String)
    /// A JSONL line holds valid JSON that is not an object.
    case notAnObject(path: String, line: Int)
    /// A JSONL object lacks the text (or domain) field.
    case missingField(path: String, line: Int, field: String)
    /// A field holds something other than a string.
    case notAString(path: String, line: Int, field: String)
    /// The bytes of a line (or a string value) are not valid UTF-8.
    case invalidUTF8(path: String, line: Int)
    /// An input holds no document at all.
    case emptyInput(path: String)
    /// A domain name is empty or holds characters other than letters, digits, `_`, `-`, `.`.
    case invalidDomainName(name: String, source: String)
    /// Two inputs name the same file or the options contradict each other.
    case invalidOption(String)
    /// The output directory exists and `--force` was not given, or it would replace an input.
    case outputExists(path: String)
    case outputContainsInput(output: String, input: String)
    /// Writing the output failed.
    case writeFailed(path: String, reason: String)
    /// The tokenizer cannot prepare training data (no EOS id, …).
    case unusableTokenizer(String)
    /// A Megatron `.idx`/`.bin` pair is malformed.
    case invalidIndexedDataset(path: String, problem: String)
    /// `index.json` of a prepared data directory is missing or malformed.
    case invalidDataIndex(path: String, problem: String)
    /// The data directory was prepared with a different tokenizer than the model's.
    case tokenizerMismatch(directory: String, prepared: String, model: String)
    /// A mixture specification cannot be parsed or resolved.
    case invalidMixture(spec: String, problem: String)
    /// A sampler cursor does not belong to this dataset / configuration.
    case cursorMismatch(problem: String)
    /// A domain has no tokens to sample from.
    case emptyDomain(name: String, split: String)

    public var description: String {
        switch self {
        case .cannotRead(let p, let r): return "\(p): cannot read: \(r)"
        case .invalidJSON(let p, let l, let r): return "\(p):\(l): invalid JSON: \(r)"
        case .notAnObject(let p, let l): return "\(p):\(l): expected a JSON object on each line"
        case .missingField(let p, let l, let f): return "\(p):\(l): field '\(f)' is missing"
        case .notAString(let p, let l, let f): return "\(p):\(l): field '\(f)': expected a string"
        case .invalidUTF8(let p, let l): return "\(p):\(l): invalid UTF-8"
        case .emptyInput(let p): return "\(p): no documents (empty input)"
        case .invalidDomainName(let n, let s):
            return "\(s): domain name '\(n)' must be non-empty and use only letters, digits, '_', '-', '.'"
        case .invalidOption(let m): return m
        case .outputExists(let p): return "\(p): output exists (pass --force to replace it)"
        case .outputContainsInput(let o, let i): return "\(o): refusing to replace the output directory: it holds the input \(i)"
        case .writeFailed(let p, let r): return "\(p): write failed: \(r)"
        case .unusableTokenizer(let m): return "tokenizer: \(m)"
        case .invalidIndexedDataset(let p, let m): return "\(p): not a valid Megatron indexed dataset: \(m)"
        case .invalidDataIndex(let p, let m): return "\(p): invalid data index: \(m)"
        case .tokenizerMismatch(let d, let prepared, let model):
            return "\(d) was prepared with tokenizer \(prepared), but the model's tokenizer is \(model): run prepare-data again with this model"
        case .invalidMixture(let s, let m): return "mixture '\(s)': \(m)"
        case .cursorMismatch(let m): return "sampler cursor does not match the data: \(m)"
        case .emptyDomain(let n, let s): return "domain '\(n)' has no \(s) tokens"
        }
    }
}
