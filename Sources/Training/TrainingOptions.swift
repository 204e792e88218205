import IOCore
import Runtime

/// Everything a `moekit train` run is configured by. Each field is one key of a `--config` file
/// (`Schemas/train.schema.json`) and one command-line flag of the same name (`--lb-coef`, …), so a run is described
/// by one JSON object: the defaults, overlaid by a resumed run's saved options, then by the config file, then by
/// the flags typed (`overlaid`).
public struct TrainingOptions: Sendable, Equatable {
    /// The model to train: a `.gguf` file or a Hugging Face directory.
    public var model: String
    /// The run directory (checkpoints, log, final model).
    public var out: String
    /// A data directory made by `moekit prepare-data` (exclusive with `batchFile`).
    public var data: String?
    /// A safetensors file with tensor `tokens`, I32 [R, T+1]: the rows to train on, `batch` per step, in order.
    public var batchFile: String?
    /// Optimizer steps.
    public var steps = 100
    /// Sequences per micro-batch.
    public var batch = 4
    /// Tokens per sequence T (each window holds T + 1).
    public var seq = 256
    /// Micro-batches per optimizer step (gradients averaged over them).
    public var accum = 1
    /// Peak learning rate, its floor, warmup steps and schedule shape.
    public var lr: Float = 3e-4
    /// Default: lr / 10.
    public var minLR: Float = 3e-5
    public var warmup = 0
    public var schedule = LearningRateSchedule.Shape.cosine
    /// `adamw` or `sgd`.
    public var optimizer = OptimizerKind.adamw
    /// Global gradient-norm clip (0: off).
    public var clip: Float = 1
    /// Decoupled weight decay λ (AdamW), or L2-free SGD when 0.
    public var weightDecay: Float = 0.1
    /// Whether norms, biases and embeddings get weight decay too (off by default, as LLaMA-MoE / OLMo).
    public var decayAll = false
    public var beta1: Float = 0.9
    public var beta2: Float = 0.95
    public var epsilon: Float = 1e-8
    /// Load-balancing coefficient α and convention; router z-loss coefficient β (OLMoE's defaults).
    public var lbCoef: Float = 0.01
    public var lbStyle = RouterLossOptions.LoadBalancingStyle.hf
    /// `micro`: f from each micro-batch's own routing; `step`: from the whole optimizer step's (GRIN).
    public var lbScope = LoadBalancingScope.micro
    public var zCoef: Float = 0.001
    /// How MoE layers route in training: plain top-k, or SparseMixer-v2 (GRIN) with jitter ε.
    public var routerEstimator = RouterEstimatorKind.topk
    public var jitterEps: Float = 0.01
    /// Learning-rate multiplier of router tensors.
    public var routerLRScale: Float = 1
    /// Parameter groups that train.
    public var train = TrainableParameters.all
    /// Dense parent to distil from (forward only), with coefficient a and temperature τ.
    public var teacher: String?
    public var distillCoef: Float = 1
    public var distillTemperature: Float = 1
    /// Seed of the data order.
    public var seed: UInt64 = 0
    /// Validation every N steps (0: only at the end); windows per domain.
    public var evalEvery = 0
    public var evalBatches = 2
    /// Checkpoint every N steps (0: none before the final model); newest checkpoints kept.
    public var saveEvery = 0
    public var keep = 2
    /// Domain mixture (`--data` only) and, for dynamic mixtures, the reference losses.
    public var mixture = "uniform"
    public var referenceLosses: String?
    public var referenceModel: String?

    public enum OptimizerKind: String, Sendable, CaseIterable {
        case adamw, sgd
    }

    public enum LoadBalancingScope: String, Sendable, CaseIterable {
        case micro, step
    }

    public enum RouterEstimatorKind: String, Sendable, CaseIterable {
        case topk, sparsemixer
    }

    /// The estimator of micro-batch `pass` (0-based over the run: step · accum + micro-batch), so SparseMixer's
    /// draws depend only on the seed and the pass and a resumed run draws the same samples.
    public func estimator(pass: Int) -> RouterEstimator {
        switch routerEstimator {
        case .topk: return .topK
        case .sparsemixer: return .sparseMixer(SparseMixerOptions(jitterEpsilon: jitterEps, seed: seed, pass: UInt64(pass)))
        }
    }

    public init(model: String, out: String) {
        self.model = model
        self.out = out
    }

    /// Keys a resumed run may change (everything else must equal the saved run's options).
    public static let resumableKeys: Set<String> = ["steps", "eval-every", "eval-batches", "save-every", "keep", "out", "model"]

    /// The options as one JSON object under their flag names (what a checkpoint saves and a config file holds).
    public var json: JSONObject {
        var pairs: [(String, JSONValue)] = [
            ("model", .string(model)), ("out", .string(out)),
            ("steps", .integer(Int64(steps))), ("batch", .integer(Int64(batch))), ("seq", .integer(Int64(seq))),
            ("accum", .integer(Int64(accum))), ("lr", .number(Self.decimal(lr))), ("min-lr", .number(Self.decimal(minLR))),
            ("warmup", .integer(Int64(warmup))), ("schedule", .string(schedule.rawValue)),
            ("optimizer", .string(optimizer.rawValue)), ("clip", .number(Self.decimal(clip))),
            ("weight-decay", .number(Self.decimal(weightDecay))), ("decay-all", .bool(decayAll)),
            ("beta1", .number(Self.decimal(beta1))), ("beta2", .number(Self.decimal(beta2))), ("epsilon", .number(Self.decimal(epsilon))),
            ("lb-coef", .number(Self.decimal(lbCoef))), ("lb-style", .string(lbStyle.rawValue)), ("lb-scope", .string(lbScope.rawValue)), ("z-coef", .number(Self.decimal(zCoef))),
            ("router-estimator", .string(routerEstimator.rawValue)), ("jitter-eps", .number(Self.decimal(jitterEps))),
            ("router-lr-scale", .number(Self.decimal(routerLRScale))), ("train", .string(train.description)),
            ("distill-coef", .number(Self.decimal(distillCoef))), ("distill-temperature", .number(Self.decimal(distillTemperature))),
            ("seed", .integer(Int64(bitPattern: seed))), ("eval-every", .integer(Int64(evalEvery))),
            ("eval-batches", .integer(Int64(evalBatches))), ("save-every", .integer(Int64(saveEvery))),
            ("keep", .integer(Int64(keep))), ("mixture", .string(mixture)),
        ]
        for (key, value) in [("data", data), ("batch-file", batchFile), ("teacher", teacher),
                             ("reference-losses", referenceLosses), ("reference-model", referenceModel)] {
            if let value { pairs.append((key, .string(value))) }
        }
        return JSONObject(pairs)
    }

    /// Options from a JSON object of flag-named keys (a config file, saved options, or flags), already validated
    /// against `Schemas/train.schema.json`; `source` names it in errors.
    /// - Throws: `TrainingError.invalidOption` naming the key and what was expected.
    public init(json: JSONObject, source: String) throws(TrainingError) {
        func string(_ key: String) throws(TrainingError) -> String? {
            guard let value = json[key] else { return nil }
            guard let text = value.stringValue else { throw .invalidOption(source: source, key: key, expected: "a string", found: value.typeName) }
            return text
        }
        func integer(_ key: String, minimum: Int) throws(TrainingError) -> Int? {
            guard let value = json[key] else { return nil }
            guard let number = value.intValue, number >= minimum, number <= Int64(Int32.max) else {
                throw .invalidOption(source: source, key: key, expected: "an integer ≥ \(minimum)", found: "\(value)")
            }
            return Int(number)
        }
        func float(_ key: String, minimum: Float? = nil, positive: Bool = false) throws(TrainingError) -> Float? {
            guard let value = json[key] else { return nil }
            guard let number = value.doubleValue, number.isFinite, Float(number).isFinite,
                minimum.map({ Float(number) >= $0 }) ?? true, !positive || number > 0
            else {
                let expected = positive ? "a positive number" : minimum.map { "a number ≥ \($0)" } ?? "a finite number"
                throw .invalidOption(source: source, key: key, expected: expected, found: "\(value)")
            }
            return Float(number)
        }
        func choice<T>(_ key: String, _ parse: (String) -> T?, _ names: [String]) throws(TrainingError) -> T? {
            guard let text = try string(key) else { return nil }
            guard let parsed = parse(text) else {
                throw .invalidOption(source: source, key: key, expected: "one of \(names.joined(separator: ", "))", found: "'\(text)'")
            }
            return parsed
        }
        guard let model = try string("model") else { throw .missingOption(source: source, key: "model") }
        guard let out = try string("out") else { throw .missingOption(source: source, key: "out") }
        self.init(model: model, out: out)
        data = try string("data")
        batchFile = try string("batch-file")
        if let v = try integer("steps", minimum: 1) { steps = v }
        if let v = try integer("batch", minimum: 1) { batch = v }
        if let v = try integer("seq", minimum: 1) { seq = v }
        if let v = try integer("accum", minimum: 1) { accum = v }
        if let v = try float("lr", minimum: 0) { lr = v }
        minLR = try float("min-lr", minimum: 0) ?? lr / 10
        if let v = try integer("warmup", minimum: 0) { warmup = v }
        if let v = try choice("schedule", LearningRateSchedule.Shape.init(rawValue:), LearningRateSchedule.Shape.allCases.map(\.rawValue)) { schedule = v }
        if let v = try choice("optimizer", OptimizerKind.init(rawValue:), OptimizerKind.allCases.map(\.rawValue)) { optimizer = v }
        if let v = try float("clip", minimum: 0) { clip = v }
        if let v = try float("weight-decay", minimum: 0) { weightDecay = v }
        if let value = json["decay-all"] {
            guard let flag = value.boolValue else { throw .invalidOption(source: source, key: "decay-all", expected: "true or false", found: "\(value)") }
            decayAll = flag
        }
        if let v = try float("beta1", minimum: 0) { beta1 = v }
        if let v = try float("beta2", minimum: 0) { beta2 = v }
        if let v = try float("epsilon", positive: true) { epsilon = v }
        if let v = try float("lb-coef", minimum: 0) { lbCoef = v }
        if let v = try choice("lb-style", RouterLossOptions.LoadBalancingStyle.init(rawValue:), RouterLossOptions.LoadBalancingStyle.allCases.map(\.rawValue)) { lbStyle = v }
        if let v = try choice("lb-scope", LoadBalancingScope.init(rawValue:), LoadBalancingScope.allCases.map(\.rawValue)) { lbScope = v }
        if let v = try float("z-coef", minimum: 0) { zCoef = v }
        if let v = try choice("router-estimator", RouterEstimatorKind.init(rawValue:), RouterEstimatorKind.allCases.map(\.rawValue)) { routerEstimator = v }
        if let v = try float("jitter-eps", minimum: 0) { jitterEps = v }
        if let v = try float("router-lr-scale", minimum: 0) { routerLRScale = v }
        if let v = try choice("train", TrainableParameters.init(spelling:), ["all", "router", "experts", "non-expert", "groups joined by + (router+experts)"]) { train = v }
        teacher = try string("teacher")
        if let v = try float("distill-coef", minimum: 0) { distillCoef = v }
        if let v = try float("distill-temperature", positive: true) { distillTemperature = v }
        if let value = json["seed"] {
            guard let number = value.intValue, number >= 0 else { throw .invalidOption(source: source, key: "seed", expected: "an integer ≥ 0", found: "\(value)") }
            seed = UInt64(number)
        }
        if let v = try integer("eval-every", minimum: 0) { evalEvery = v }
        if let v = try integer("eval-batches", minimum: 1) { evalBatches = v }
        if let v = try integer("save-every", minimum: 0) { saveEvery = v }
        if let v = try integer("keep", minimum: 1) { keep = v }
        if let v = try string("mixture") { mixture = v }
        referenceLosses = try string("reference-losses")
        referenceModel = try string("reference-model")
        guard (data == nil) != (batchFile == nil) else {
            throw .invalidOption(source: source, key: data == nil ? "data" : "batch-file", expected: "exactly one of data and batch-file", found: data == nil ? "neither" : "both")
        }
        guard beta1 < 1, beta2 < 1 else {
            throw .invalidOption(source: source, key: beta1 < 1 ? "beta2" : "beta1", expected: "a number in [0, 1)", found: "\(beta1 < 1 ? beta2 : beta1)")
        }
        guard minLR <= lr else { throw .invalidOption(source: source, key: "min-lr", expected: "at most lr (\(lr))", found: "\(minLR)") }
    }

    /// A Float option as the Double of its shortest decimal spelling (0.01, not 0.009999999776), so that saved
    /// options compare equal to the same value typed again.
    static func decimal(_ value: Float) -> Double { Double(value.description) ?? Double(value) }

    /// `base` overlaid by each object in turn (later keys win).
    public static func overlaid(_ base: JSONObject, _ layers: JSONObject...) -> JSONObject {
        var merged = base
        for layer in layers {
            for (key, value) in layer.pairs { merged[key] = value }
        }
        return merged
    }

    /// The learning-rate schedule of the run.
    public var learningRateSchedule: LearningRateSchedule {
        LearningRateSchedule(shape: schedule, peak: lr, minimum: minLR, warmupSteps: warmup, totalSteps: steps)
    }

    /// The auxiliary router losses of the run.
    public var routerLosses: RouterLossOptions {
        RouterLossOptions(loadBalancing: lbCoef, loadBalancingStyle: lbStyle, zLoss: zCoef)
    }
}
