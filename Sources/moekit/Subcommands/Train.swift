import ArgumentParser
import Conversion
import Foundation
import IOCore
import Runtime
import Training
import TrainingData

extension MoekitCommand {
    /// `moekit train --model M --out RUN (--data DIR | --batch-file F) …`.
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Continue pretraining a dense or MoE model on the CPU (AdamW or SGD, router losses, checkpoints, exact resume).",
            discussion: """
                Trains on a data directory from `moekit prepare-data` (--data, sampled by --mixture) or on the rows of a
                batch file (--batch-file: a safetensors file with tensor `tokens`, I32 [rows, T+1], taken --batch rows per
                micro-batch in order; inputs tokens[:, :T], targets tokens[:, 1:]). Every option can also come from
                --config FILE (JSON or YAML, keys named like the flags, Schemas/train.schema.json); flags typed here
                override the file. RUN receives train.jsonl (one record per step and evaluation,
                Schemas/train-log.schema.json), checkpoints/step-NNNNNNNN/ every --save-every steps (the model as a
                Hugging Face directory plus optimizer.safetensors and trainer_state.json, the newest --keep kept) and
                final/, the trained model. --resume continues from the newest complete checkpoint with bit-identical
                results (same --threads); the loss definitions are in docs/training.md.
                """)

        @Option(help: "Model to train: a .gguf file or a Hugging Face directory.") var model: String?
        @Option(help: "Run directory (checkpoints, train.jsonl, final/).") var out: String?
        @Option(help: "Training options file (JSON or YAML, keys as the flags; flags override it).") var config: String?
        @Option(help: "Data directory from `moekit prepare-data`.") var data: String?
        @Option(help: "Safetensors file with tensor `tokens`, I32 [rows, seq + 1].") var batchFile: String?
        @Option(parsing: .unconditional, help: "Optimizer steps (default 100).") var steps: Int?
        @Option(parsing: .unconditional, help: "Sequences per micro-batch (default 4).") var batch: Int?
        @Option(parsing: .unconditional, help: "Tokens per sequence T with --data (default 256; a batch file fixes its own).") var seq: Int?
        @Option(parsing: .unconditional, help: "Micro-batches per optimizer step (default 1).") var accum: Int?
        @Option(parsing: .unconditional, help: "Peak learning rate (default 3e-4).") var lr: Double?
        @Option(parsing: .unconditional, help: "Learning-rate floor (default 3e-5).") var minLr: Double?
        @Option(parsing: .unconditional, help: "Warmup steps (default 0).") var warmup: Int?
        @Option(help: "constant | cosine | linear | wsd (default cosine).") var schedule: String?
        @Option(help: "adamw | sgd (default adamw).") var optimizer: String?
        @Option(parsing: .unconditional, help: "Global gradient-norm clip, 0 for none (default 1).") var clip: Double?
        @Option(parsing: .unconditional, help: "Weight decay (default 0.1; not on norms, biases, embeddings unless --decay-all).") var weightDecay: Double?
        @Flag(help: "Apply weight decay to norms, biases and embeddings too.") var decayAll = false
        @Option(parsing: .unconditional, help: "AdamW β1 (default 0.9).") var beta1: Double?
        @Option(parsing: .unconditional, help: "AdamW β2 (default 0.95).") var beta2: Double?
        @Option(parsing: .unconditional, help: "AdamW ε (default 1e-8).") var epsilon: Double?
        @Option(parsing: .unconditional, help: "Load-balancing loss coefficient α (default 0.01).") var lbCoef: Double?
        @Option(help: "hf | megablocks | llama-moe (default hf).") var lbStyle: String?
        @Option(help: "micro | step: load-balancing counts per micro-batch, or pooled over the optimizer step (GRIN; default micro).") var lbScope: String?
        @Option(parsing: .unconditional, help: "Router z-loss coefficient β (default 0.001).") var zCoef: Double?
        @Option(help: "topk | sparsemixer (SparseMixer-v2, top-2 softmax routers only; default topk).") var routerEstimator: String?
        @Option(parsing: .unconditional, help: "SparseMixer's jitter ε (default 0.01).") var jitterEps: Double?
        @Option(parsing: .unconditional, help: "Learning-rate multiplier of the routers (default 1).") var routerLrScale: Double?
        @Option(help: "Groups that train: all | router | experts | non-expert, or joined by + (default all).") var train: String?
        @Option(help: "Dense parent to distil from (forward only).") var teacher: String?
        @Option(parsing: .unconditional, help: "Distillation coefficient a (default 1).") var distillCoef: Double?
        @Option(parsing: .unconditional, help: "Distillation temperature τ (default 1).") var distillTemperature: Double?
        @Option(parsing: .unconditional, help: "Seed of the data order (default 0).") var seed: Int?
        @Option(parsing: .unconditional, help: "Validate every N steps; 0 for only at the end (default 0).") var evalEvery: Int?
        @Option(parsing: .unconditional, help: "Validation windows per domain, in batches of --batch (default 2).") var evalBatches: Int?
        @Option(parsing: .unconditional, help: "Checkpoint every N steps; 0 for none (default 0).") var saveEvery: Int?
        @Option(parsing: .unconditional, help: "Checkpoints kept (default 2).") var keep: Int?
        @Option(help: "uniform | static-llama | static-sheared | custom:A=w,B=w | dynamic-sheared | dynamic-paper (default uniform).") var mixture: String?
        @Option(help: "JSON file {domain: loss} of reference losses for a dynamic mixture.") var referenceLosses: String?
        @Option(help: "Dense model whose validation losses are the dynamic mixture's reference (measured at the start).") var referenceModel: String?
        @Flag(help: "Continue RUN from its newest complete checkpoint.") var resume = false
        @Flag(help: "Start over in an existing RUN (its log, checkpoints and final model are removed).") var force = false
        @Option(parsing: .unconditional, help: "Threads (default: all cores).") var threads: Int?
        @Option(help: recipesOptionHelp) var recipes: String?

        func validate() throws {
            if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
            if resume && force { throw ValidationError("give --resume or --force, not both") }
        }

        /// The flags typed on the command line, under their option names.
        var flagOptions: JSONObject {
            var pairs: [(String, JSONValue)] = []
            func add(_ key: String, _ value: String?) { if let value { pairs.append((key, .string(value))) } }
            func add(_ key: String, _ value: Int?) { if let value { pairs.append((key, .integer(Int64(value)))) } }
            func add(_ key: String, _ value: Double?) { if let value { pairs.append((key, .number(value))) } }
            add("model", model); add("out", out); add("data", data); add("batch-file", batchFile)
            add("steps", steps); add("batch", batch); add("seq", seq); add("accum", accum); add("lr", lr); add("min-lr", minLr)
            add("warmup", warmup); add("schedule", schedule); add("optimizer", optimizer); add("clip", clip)
            add("weight-decay", weightDecay); add("beta1", beta1); add("beta2", beta2); add("epsilon", epsilon)
            add("lb-coef", lbCoef); add("lb-style", lbStyle); add("z-coef", zCoef); add("lb-scope", lbScope); add("router-lr-scale", routerLrScale)
            add("router-estimator", routerEstimator); add("jitter-eps", jitterEps)
            add("train", train); add("teacher", teacher); add("distill-coef", distillCoef)
            add("distill-temperature", distillTemperature); add("seed", seed); add("eval-every", evalEvery)
            add("eval-batches", evalBatches); add("save-every", saveEvery); add("keep", keep); add("mixture", mixture)
            add("reference-losses", referenceLosses); add("reference-model", referenceModel)
            if decayAll { pairs.append(("decay-all", .bool(true))) }
            return JSONObject(pairs)
        }

        func run() throws {
            if let threads { setenv("MOEKIT_THREADS", String(threads), 1) }
            let summary = try reportingErrors { () throws -> Trainer.Summary in
                let recipesDirectory = try RecipeLibrary.locateDirectory(explicit: recipes)
                let schemaPath = URL(fileURLWithPath: recipesDirectory).deletingLastPathComponent()
                    .appendingPathComponent("Schemas/train.schema.json").path
                let schema = try JSONParser.parse(try PathUtilities.readBytes(schemaPath))
                let file = try config.map { try TrainingConfigFile.read(path: $0, schema: schema) } ?? JSONObject()
                let flags = flagOptions
                // The run directory comes from the flags or the file; a resumed run's saved options sit under both.
                guard let runDirectory = flags["out"]?.stringValue ?? file["out"]?.stringValue else {
                    throw TrainingError.missingOption(source: "moekit train", key: "out (--out RUN)")
                }
                var saved = JSONObject()
                var resumePath: String?
                if resume {
                    guard let newest = TrainingCheckpoint.list(run: runDirectory).last else {
                        throw TrainingError.resumeMismatch(directory: runDirectory, problem: "it has no complete checkpoint (checkpoints/step-*)")
                    }
                    let statePath = PathUtilities.join(newest.path, TrainerState.fileName)
                    saved = try TrainerState(json: try JSONParser.parse(try PathUtilities.readBytes(statePath)), path: statePath).options
                    resumePath = newest.path
                }
                let merged = TrainingOptions.overlaid(saved, file, flags)
                try TrainingConfigFile.validate(merged, schema: schema, source: config.map { "\($0) + flags" } ?? "the options")
                let options = try TrainingOptions(json: merged, source: config ?? "moekit train")
                if resume {
                    let restated = TrainingOptions.overlaid(saved, file, flags)
                    for (key, value) in restated.pairs where !TrainingOptions.resumableKeys.contains(key) && saved[key] != value {
                        throw TrainingError.resumeMismatch(
                            directory: runDirectory, problem: "\(key) was \(saved[key].map { JSONWriter.serialize($0) } ?? "unset") in the run, now \(JSONWriter.serialize(value)) (only \(TrainingOptions.resumableKeys.sorted().joined(separator: ", ")) may change)")
                    }
                }
                try OutputSafety.checkSeparate(
                    output: options.out, inputs: [options.model, options.data, options.batchFile, options.teacher, options.referenceModel].compactMap { $0 })
                let clearsPreviousRun = try checkRunDirectory(options.out)

                let model = try TrainableModel(path: options.model, recipesDirectory: recipes)
                let source: BatchSource
                var rule: DynamicMixtureRule?
                var references: [Double]?
                if let batchFile = options.batchFile {
                    source = try BatchFileSource(path: batchFile, vocabularySize: model.config.vocabularySize)
                } else {
                    let dataset = try PreparedDataset(directory: options.data!)
                    guard let tokenizer = model.tokenizer else { throw ModelCommandError.noTokenizer(path: options.model) }
                    try dataset.requireTokenizer(tokenizer)
                    let spec = try MixtureSpec.parse(options.mixture)
                    let mixture = try DomainMixture(spec: spec, domains: dataset.domainNames, specText: options.mixture)
                    for warning in mixture.warnings { printError("warning: \(warning)") }
                    rule = spec.updateRule
                    source = try DatasetBatchSource(dataset: dataset, sequenceLength: options.seq, seed: options.seed, weights: mixture.weights)
                    if rule != nil, let path = options.referenceLosses {
                        references = try readReferenceLosses(path, domains: dataset.domainNames)
                    }
                }
                let teacherModel = try options.teacher.map { try TrainableModel(path: $0, recipesDirectory: recipes) }
                var referenceModel: TrainableModel?
                if rule != nil && references == nil {
                    referenceModel = options.referenceModel == options.teacher
                        ? teacherModel : try options.referenceModel.map { try TrainableModel(path: $0, recipesDirectory: recipes) }
                }
                let trainer = try Trainer(
                    options: options, model: model, source: source, teacher: teacherModel, mixtureRule: rule,
                    referenceLosses: references, referenceModel: referenceModel)
                trainer.progress = { printError($0) }
                // Everything is validated: only now does --force remove the previous run's files.
                if clearsPreviousRun {
                    for name in ["train.jsonl", "checkpoints", "final"] { TemporaryPaths.removeTree(PathUtilities.join(options.out, name)) }
                }
                return try trainer.run(resume: resumePath)
            }
            print("trained \(summary.steps) steps: final loss \(String(format: "%.4f", summary.finalLoss)); model in \(summary.finalPath)")
        }

        /// A new run needs a missing or empty directory, or `--force` (then the previous run's log, checkpoints and final
        /// model are removed once everything else is validated); `--resume` keeps them.
        /// - Returns: whether a previous run's files must be removed before training.
        func checkRunDirectory(_ run: String) throws -> Bool {
            guard !resume, PathUtilities.exists(run) else { return false }
            guard PathUtilities.isDirectory(run) else { throw TrainingError.runExists(path: run) }
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: run)) ?? []
            guard !entries.isEmpty else { return false }
            guard force else { throw TrainingError.runExists(path: run) }
            return true
        }

        /// `{domain: loss}` for every domain of the data.
        func readReferenceLosses(_ path: String, domains: [String]) throws -> [Double] {
            let json = try JSONParser.parse(try PathUtilities.readBytes(path))
            return try domains.map { name in
                guard let loss = json[name]?.doubleValue, loss.isFinite, loss > 0 else {
                    throw TrainingError.invalidOption(source: path, key: name, expected: "a positive reference loss for domain \(name)", found: json[name].map { "\($0)" } ?? "nothing")
                }
                return loss
            }
        }
    }
}
