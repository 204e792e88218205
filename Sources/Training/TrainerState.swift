import IOCore

/// What a checkpoint records besides the weights and optimizer moments (`trainer_state.json`,
/// `Schemas/trainer-state.schema.json`): enough to continue the run exactly where it stopped.
public struct TrainerState: Equatable, Sendable {
    public static let fileName = "trainer_state.json"

    /// Optimizer steps done.
    public var step: Int
    /// Training tokens (predicted positions) seen.
    public var tokens: Int
    /// `TrainableModel.fingerprint` of the model being trained.
    public var modelFingerprint: String
    /// The run's options under their flag names.
    public var options: JSONObject
    /// The batch source's cursor (`BatchSource.cursor`).
    public var dataCursor: JSONValue
    /// Current mixture weights (dataset runs).
    public var mixtureWeights: [Double]?
    /// Per-domain reference losses of a dynamic mixture (measured once at the start).
    public var referenceLosses: [Double]?
    /// Size of `train.jsonl` when the checkpoint was written: a resumed run cuts the log back to it.
    public var logBytes: Int

    public init(
        step: Int, tokens: Int, modelFingerprint: String, options: JSONObject, dataCursor: JSONValue,
        mixtureWeights: [Double]?, referenceLosses: [Double]?, logBytes: Int
    ) {
        self.step = step
        self.tokens = tokens
        self.modelFingerprint = modelFingerprint
        self.options = options
        self.dataCursor = dataCursor
        self.mixtureWeights = mixtureWeights
        self.referenceLosses = referenceLosses
        self.logBytes = logBytes
    }

    public var json: JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("version", .integer(1)), ("step", .integer(Int64(step))), ("tokens", .integer(Int64(tokens))),
            ("model_fingerprint", .string(modelFingerprint)), ("options", .object(options)), ("data_cursor", dataCursor),
            ("log_bytes", .integer(Int64(logBytes))),
        ]
        if let mixtureWeights { pairs.append(("mixture_weights", .array(mixtureWeights.map { .number($0) }))) }
        if let referenceLosses { pairs.append(("reference_losses", .array(referenceLosses.map { .number($0) }))) }
        return .object(JSONObject(pairs))
    }

    /// Reads a state written by `json`; `path` names it in errors.
    /// - Throws: `TrainingError.invalidCheckpoint` naming the missing or malformed field.
    public init(json value: JSONValue, path: String) throws(TrainingError) {
        func field<T>(_ key: String, _ read: (JSONValue) -> T?) throws(TrainingError) -> T {
            guard let raw = value[key], let parsed = read(raw) else {
                throw .invalidCheckpoint(path: path, problem: "field '\(key)' is missing or malformed")
            }
            return parsed
        }
        guard try field("version", { $0.intValue }) == 1 else { throw .invalidCheckpoint(path: path, problem: "version is not 1") }
        step = Int(try field("step", { $0.intValue }))
        tokens = Int(try field("tokens", { $0.intValue }))
        modelFingerprint = try field("model_fingerprint", { $0.stringValue })
        options = try field("options", { $0.objectValue })
        dataCursor = try field("data_cursor", { $0 })
        logBytes = Int(try field("log_bytes", { $0.intValue }))
        func numbers(_ key: String) throws(TrainingError) -> [Double]? {
            guard let raw = value[key] else { return nil }
            guard let list = raw.arrayValue?.compactMap(\.doubleValue), list.count == raw.arrayValue?.count else {
                throw .invalidCheckpoint(path: path, problem: "field '\(key)' must be an array of numbers")
            }
            return list
        }
        mixtureWeights = try numbers("mixture_weights")
        referenceLosses = try numbers("reference_losses")
    }
}
