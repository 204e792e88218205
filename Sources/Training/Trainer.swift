import Formats
import Foundation
import IOCore
import Runtime
import TensorCore
import TrainingData

/// The training loop of `moekit train` (llm.c's `train_gpt2` loop over caller-owned buffers): per optimizer step,
/// `accum` micro-batches of forward + backward (gradients averaged), a finiteness check, global-norm clipping, the
/// scheduled learning rate and one optimizer update; validation, dynamic mixture updates, checkpoints and the JSONL
/// log at their intervals; the trained model in `RUN/final`.
///
/// Everything that decides a step — parameters, optimizer moments, the batch source's cursor, mixture weights,
/// the step count — is in a checkpoint, so a resumed run computes bit-identical losses (same thread count).
public final class Trainer {
    public let options: TrainingOptions
    public let model: TrainableModel
    public let source: BatchSource
    public let teacher: TrainableModel?
    /// Called after each step and evaluation with a one-line summary (the CLI prints it to stderr).
    public var progress: ((String) -> Void)?

    private let optimizer: any Optimizer
    private let gradients: ParameterBuffer
    private let workspace: BackwardWorkspace
    private let teacherWorkspace: BackwardWorkspace?
    private let referenceWorkspace: BackwardWorkspace?
    private var teacherBuffer: [Float] = []
    private var referenceLosses: [Double]?
    private let referenceModel: TrainableModel?
    private let mixtureRule: DynamicMixtureRule?

    /// Checks that the model can be trained as `options` say, and allocates every buffer of the run.
    /// - Parameters:
    ///   - mixtureRule: the dynamic mixture's update rule (nil: weights stay as they are).
    ///   - referenceLosses: per-domain reference losses of a dynamic mixture; nil: measured once at the start on the
    ///     same validation windows with `referenceModel` (the dense parent, as LLaMA-MoE used LLaMA-2-7B's losses).
    /// - Throws: `TrainingError.unsupported` naming what does not fit.
    public init(
        options: TrainingOptions, model: TrainableModel, source: BatchSource, teacher: TrainableModel? = nil,
        mixtureRule: DynamicMixtureRule? = nil, referenceLosses: [Double]? = nil, referenceModel: TrainableModel? = nil
    ) throws {
        let config = model.config
        if !model.parameters.layout.hasExperts && options.train != .all && options.train != .nonExpert {
            throw TrainingError.unsupported(
                "--train \(options.train): \(model.path) is a dense model (no routers or experts); use --train all")
        }
        do { try options.estimator(pass: 0).check(config) } catch {
            throw TrainingError.unsupported("--router-estimator \(options.routerEstimator.rawValue) on \(model.path): \(error)")
        }
        let window = source.sequenceLength + 1
        guard window <= config.maxPositionEmbeddings else {
            throw TrainingError.unsupported(
                "sequences of \(source.sequenceLength) + 1 tokens exceed \(model.path)'s context of \(config.maxPositionEmbeddings) positions (max_position_embeddings)")
        }
        for other in [teacher, referenceModel].compactMap({ $0 }) where window > other.config.maxPositionEmbeddings {
            throw TrainingError.unsupported("sequences of \(window) tokens exceed \(other.path)'s context of \(other.config.maxPositionEmbeddings)")
        }
        for other in [teacher, referenceModel].compactMap({ $0 }) where other.config.vocabularySize != config.vocabularySize {
            throw TrainingError.unsupported(
                "\(other.path) has a vocabulary of \(other.config.vocabularySize) tokens, the trained model \(config.vocabularySize)")
        }
        if mixtureRule != nil && referenceLosses == nil && referenceModel == nil {
            throw TrainingError.unsupported(
                "a dynamic mixture needs reference losses: give --reference-losses FILE or --reference-model DENSE")
        }
        self.options = options
        self.model = model
        self.source = source
        self.teacher = teacher
        self.mixtureRule = mixtureRule
        self.referenceLosses = referenceLosses
        self.referenceModel = referenceModel
        let layout = model.parameters.layout
        let groups = ParameterGroups(
            layout: layout, trainable: options.train, routerLearningRateScale: options.routerLRScale, decayAll: options.decayAll)
        switch options.optimizer {
        case .adamw:
            optimizer = AdamW(
                layout: layout,
                settings: AdamW.Settings(beta1: options.beta1, beta2: options.beta2, epsilon: options.epsilon, weightDecay: options.weightDecay),
                groups: groups)
        case .sgd:
            optimizer = SGD(groups: groups, weightDecay: options.weightDecay)
        }
        gradients = ParameterBuffer(layout: layout)
        let rows = max(options.batch, 1) * window
        workspace = BackwardWorkspace(config: config, rows: rows, context: window)
        let teacherScratch = teacher.map { BackwardWorkspace(config: $0.config, rows: rows, context: window) }
        teacherWorkspace = teacherScratch
        referenceWorkspace = referenceModel.map { reference in
            reference === teacher ? teacherScratch! : BackwardWorkspace(config: reference.config, rows: rows, context: window)
        }
    }

    /// What a finished run reports.
    public struct Summary: Sendable {
        public var steps: Int
        public var finalLoss: Double
        public var validation: [String: Double]
        public var finalPath: String
    }

    /// Runs from step 0, or from `resume` (a checkpoint's path; its state must match this run's model).
    /// - Throws: `TrainingError.nonFinite` when NaN/Inf appears (checkpoints written so far are kept), I/O errors.
    public func run(resume: String? = nil) throws -> Summary {
        Matmul.useSingleThreadedBLAS()
        let run = options.out
        try PathUtilities.createDirectory(run)
        var startStep = 0, tokens = 0, logBytes = 0
        if let resume {
            let state = try TrainingCheckpoint.read(path: resume, parameters: model.parameters, optimizer: optimizer)
            guard state.modelFingerprint == model.fingerprint else {
                throw TrainingError.resumeMismatch(directory: run, problem: "its checkpoint \(resume) is of another model than \(model.path)")
            }
            try source.restore(state.dataCursor)
            if let weights = state.mixtureWeights { try source.setWeights(weights) }
            referenceLosses = state.referenceLosses ?? referenceLosses
            startStep = state.step
            tokens = state.tokens
            logBytes = state.logBytes
        }
        let log = try TrainingLog(path: PathUtilities.join(run, "train.jsonl"), keepingBytes: logBytes)
        let validation = source.validationWindows(limit: options.evalBatches * options.batch)
        if mixtureRule != nil && referenceLosses == nil, let referenceModel, let referenceWorkspace {
            referenceLosses = try validationLosses(referenceModel.decoder, referenceModel.parameters, referenceWorkspace, validation)
        }
        let layout = model.parameters.layout
        let trainableCount = ParameterGroups(layout: layout, trainable: options.train).segments
            .filter { $0.learningRateScale != 0 }.reduce(0) { $0 + $1.count }
        log.write("start", [
            ("step", .integer(Int64(startStep))), ("steps", .integer(Int64(options.steps))), ("model", .string(model.path)),
            ("parameters", .integer(Int64(layout.count))), ("trainable_parameters", .integer(Int64(trainableCount))),
            ("resumed_from", resume.map { .string($0) } ?? .null), ("threads", .integer(Int64(Parallel.width))),
            ("options", .object(options.json)),
        ] + (referenceLosses.map { [("reference_losses", .array($0.map { TrainingLog.number($0) }))] } ?? []))

        let schedule = options.learningRateSchedule
        let clock = ContinuousClock()
        let started = clock.now
        var lastLoss = Double.nan
        var lastValidation: [String: Double] = [:]
        if startStep == 0 && options.evalEvery > 0 {
            lastValidation = try evaluate(step: 0, windows: validation, log: log)  // the baseline
        }
        for step in startStep..<options.steps {
            let stepStart = clock.now
            gradients.zero()
            var sums = (total: 0.0, ce: 0.0, lb: 0.0, z: 0.0, distill: 0.0), balanced = 0.0
            var routing: [[LayerRouting]] = []
            var stepTokens = 0
            // The step's micro-batches; with `--lb-scope step` a forward pre-pass pools their expert load first.
            let micro = (0..<options.accum).map { _ in source.next(rows: options.batch) }
            var routerLosses = options.routerLosses
            if options.lbScope == .step && options.accum > 1 && options.lbCoef > 0 && model.parameters.layout.hasExperts {
                var load = ExpertLoad(counts: [], rows: 0)
                for (index, batch) in micro.enumerated() {
                    load = load + (try model.decoder.expertLoad(
                        Self.sequences(batch), parameters: model.parameters,
                        estimator: options.estimator(pass: step * options.accum + index), workspace: workspace))
                }
                routerLosses.stepLoad = load
            }
            for (index, batch) in micro.enumerated() {
                let sequences = Self.sequences(batch)
                let distillation = try teacherLogits(sequences).map {
                    DistillationOptions(teacherLogits: $0, coefficient: options.distillCoef, temperature: options.distillTemperature)
                }
                let breakdown = try model.decoder.lossAndGradients(
                    sequences, parameters: model.parameters, gradients: gradients, routerLosses: routerLosses,
                    distillation: distillation, estimator: options.estimator(pass: step * options.accum + index),
                    trainable: options.train, workspace: workspace)
                sums.total += Double(breakdown.total)
                sums.ce += Double(breakdown.crossEntropy)
                sums.lb += Double(breakdown.loadBalancing)
                sums.z += Double(breakdown.zLoss)
                sums.distill += Double(breakdown.distillation)
                balanced = Double(breakdown.loadBalancingBalanced)
                routing.append(breakdown.routing)
                stepTokens += batch.size * batch.sequenceLength
            }
            let A = Double(options.accum)
            if options.accum > 1 {
                let scale = Float(1 / A)
                gradients.withUnsafeMutableBufferPointer { g in for i in 0..<g.count { g[i] *= scale } }
            }
            let loss = sums.total / A
            guard loss.isFinite else { throw TrainingError.nonFinite(step: step + 1, tensor: "the loss") }
            let norm = clipGradientNorm(gradients, maxNorm: options.clip)
            guard norm.isFinite else { throw TrainingError.nonFinite(step: step + 1, tensor: firstNonFinite(gradients) ?? "the gradients") }
            let lr = schedule.rate(at: step)
            optimizer.update(parameters: model.parameters, gradients: gradients, learningRate: lr)
            if let name = firstNonFinite(model.parameters) {
                throw TrainingError.nonFinite(step: step + 1, tensor: name + " (after the update)")
            }
            tokens += stepTokens
            lastLoss = loss
            let elapsed = (clock.now - started).seconds, stepSeconds = (clock.now - stepStart).seconds
            let done = step + 1 - startStep, remaining = options.steps - step - 1
            let eta = elapsed / Double(done) * Double(remaining)
            var fields: [(String, JSONValue)] = [
                ("step", .integer(Int64(step + 1))), ("loss", TrainingLog.number(loss)), ("ce", TrainingLog.number(sums.ce / A)),
                ("lb", TrainingLog.number(sums.lb / A)), ("lb_balanced", TrainingLog.number(balanced)),
                ("z", TrainingLog.number(sums.z / A)), ("distill", TrainingLog.number(sums.distill / A)),
                ("lr", TrainingLog.number(Double(lr))), ("grad_norm", TrainingLog.number(norm)),
                ("tokens", .integer(Int64(tokens))), ("tokens_per_s", TrainingLog.number(Double(stepTokens) / stepSeconds, digits: 4)),
                ("elapsed_s", TrainingLog.number(elapsed, digits: 6)), ("eta_s", TrainingLog.number(eta, digits: 4)),
            ]
            if let layers = routing.first, !layers.isEmpty {
                fields.append(("layers", .array(layers.indices.map { i in
                    // Mean over the step's micro-batches.
                    let load = (0..<layers[i].load.count).map { e in routing.reduce(0) { $0 + $1[i].load[e] } / A }
                    let entropy = -load.reduce(0) { $0 + ($1 > 0 ? $1 * Foundation.log($1) : 0) }
                    let lse2 = routing.reduce(0) { $0 + $1[i].meanSquaredLogSumExp } / A
                    return .object(JSONObject([
                        ("layer", .integer(Int64(layers[i].layer))), ("load", .array(load.map { TrainingLog.number($0, digits: 4) })),
                        ("load_entropy", TrainingLog.number(entropy, digits: 5)), ("router_lse2", TrainingLog.number(lse2, digits: 5)),
                    ]))
                })))
            }
            if let weights = source.weights { fields.append(("mixture_weights", .array(weights.map { TrainingLog.number($0) }))) }
            log.write("step", fields)
            progress?(String(
                format: "train step %d/%d  loss %.4f  ce %.4f  lr %.2e  |g| %.3f  %.0f tokens/s  ETA %@", step + 1, options.steps, loss,
                sums.ce / A, Double(lr), norm, Double(stepTokens) / stepSeconds, Self.duration(eta)))

            let last = step + 1 == options.steps
            if (options.evalEvery > 0 && (step + 1) % options.evalEvery == 0) || last {
                lastValidation = try evaluate(step: step + 1, windows: validation, log: log)
            }
            if options.saveEvery > 0 && (step + 1) % options.saveEvery == 0 {
                let state = TrainerState(
                    step: step + 1, tokens: tokens, modelFingerprint: model.fingerprint, options: options.json,
                    dataCursor: source.cursor, mixtureWeights: source.weights, referenceLosses: referenceLosses,
                    logBytes: log.size)
                try TrainingCheckpoint.write(
                    run: run, model: model, parameters: model.parameters, optimizer: optimizer, state: state, keep: options.keep)
                log.write("checkpoint", [
                    ("step", .integer(Int64(step + 1))), ("path", .string(TrainingCheckpoint.path(run: run, step: step + 1))),
                ])
            }
        }
        let finalPath = PathUtilities.join(run, "final")
        try HuggingFaceDirectoryWriter(destination: finalPath, replaceExisting: true).write(
            tensors: model.tensors(of: model.parameters), maxShardSize: 5_000_000_000,
            files: [.init(name: "config.json", json: model.configJSON)] + model.sideFiles)
        log.write("end", [
            ("step", .integer(Int64(options.steps))), ("final", .string(finalPath)),
            ("elapsed_s", TrainingLog.number((clock.now - started).seconds, digits: 6)),
        ])
        return Summary(steps: options.steps, finalLoss: lastLoss, validation: lastValidation, finalPath: finalPath)
    }

    /// Validation loss per domain, logged; a dynamic mixture then updates the sampling weights.
    private func evaluate(step: Int, windows: [[[Int32]]], log: TrainingLog) throws -> [String: Double] {
        let losses = try validationLosses(model.decoder, model.parameters, workspace, windows)
        let names = source.domainNames
        let weights = source.weights ?? [Double](repeating: 1 / Double(names.count), count: names.count)
        var mean = 0.0, weightSum = 0.0
        for (loss, weight) in zip(losses, weights) where loss.isFinite {
            mean += weight * loss
            weightSum += weight
        }
        mean = weightSum > 0 ? mean / weightSum : .nan
        var fields: [(String, JSONValue)] = [
            ("step", .integer(Int64(step))), ("loss", TrainingLog.number(mean)),
            ("domains", .object(JSONObject(zip(names, losses).map { ($0, TrainingLog.number($1)) }))),
        ]
        if let rule = mixtureRule, let reference = referenceLosses, let current = source.weights {
            let usable = zip(losses, reference).allSatisfy { $0.isFinite && $1.isFinite }
            if usable {
                let updated = rule.update(weights: current, losses: losses, referenceLosses: reference)
                try source.setWeights(updated)
                fields.append(("mixture_weights", .array(updated.map { TrainingLog.number($0) })))
            }
        }
        log.write("eval", fields)
        progress?(String(format: "eval step %d  validation loss %.4f  (%@)", step, mean,
            zip(names, losses).map { String(format: "%@ %.3f", $0, $1) }.joined(separator: ", ")))
        return Dictionary(uniqueKeysWithValues: zip(names, losses).map { ($0, $1) })
    }

    /// Mean next-token loss of each domain's windows (NaN for a domain without windows), in batches of `batch`.
    private func validationLosses(
        _ decoder: Decoder, _ parameters: ParameterBuffer, _ workspace: BackwardWorkspace, _ windows: [[[Int32]]]
    ) throws -> [Double] {
        try windows.map { domain in
            var sum = 0.0, count = 0
            var start = 0
            while start < domain.count {
                let chunk = Array(domain[start..<min(domain.count, start + options.batch)])
                for part in try decoder.crossEntropySums(chunk, parameters: parameters, workspace: workspace) {
                    sum += part.sum
                    count += part.count
                }
                start += options.batch
            }
            return count > 0 ? sum / Double(count) : .nan
        }
    }

    /// The teacher's logits for `sequences` ([Σ T, V]), or nil without a teacher. They are copied into one buffer
    /// allocated for the whole run (the array handed out is unique again once the pass that read it returns).
    private func teacherLogits(_ sequences: [[Int32]]) throws -> [Float]? {
        guard let teacher, let teacherWorkspace else { return nil }
        try teacher.decoder.logits(sequences, parameters: teacher.parameters, workspace: teacherWorkspace) { logits in
            if teacherBuffer.count != logits.count { teacherBuffer = [Float](repeating: 0, count: logits.count) }
            teacherBuffer.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: logits.baseAddress!, count: logits.count) }
        }
        return teacherBuffer
    }

    /// The rows of a batch as sequences of T + 1 tokens.
    static func sequences(_ batch: TokenBatch) -> [[Int32]] {
        let width = batch.sequenceLength + 1
        return (0..<batch.size).map { Array(batch.tokens[($0 * width)..<(($0 + 1) * width)]) }
    }

    /// The name of the first tensor of `buffer` holding NaN or Inf.
    private func firstNonFinite(_ buffer: ParameterBuffer) -> String? {
        buffer.withUnsafeBufferPointer { values in
            for (name, slice) in buffer.layout.names {
                for i in slice.offset..<(slice.offset + slice.count) where !values[i].isFinite { return name }
            }
            return nil
        }
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(String(format: "%02d", s / 60 % 60))m" : s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
