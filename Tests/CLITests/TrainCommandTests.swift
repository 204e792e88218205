import Foundation
import TestSupport
import Testing

@testable import Formats
@testable import IOCore

#if canImport(Glibc)
import Glibc
#endif

/// `moekit train` through the built binary on transformers' tiny Mixtral (Tests/RuntimeTests/Fixtures): logs and
/// checkpoints that match their schemas, exact resume after SIGKILL, frozen groups, config files and bad input.
@Suite("moekit train", .serialized)
struct TrainCommandTests {
    /// The tiny Mixtral as an HF directory, and a batch file of `rows` random rows of `width` tokens.
    static func fixture(_ tmp: TemporaryDirectory, rows: Int = 8, width: Int = 17) throws -> (model: String, batches: String) {
        let model = tmp.file("mixtral")
        try FileManager.default.createDirectory(atPath: model, withIntermediateDirectories: true)
        let fixtures = TestModels.repositoryRoot + "/Tests/RuntimeTests/Fixtures/"
        try FileManager.default.copyItem(atPath: fixtures + "tiny_mixtral.json", toPath: model + "/config.json")
        try FileManager.default.copyItem(atPath: fixtures + "tiny_mixtral.safetensors", toPath: model + "/model.safetensors")
        let batches = tmp.file("batches.safetensors")
        try writeBatchFile(batches, rows: rows, width: width, vocabulary: 11, seed: 5)
        return (model, batches)
    }

    /// A safetensors file with tensor `tokens`, I32 [rows, width], of seeded ids below `vocabulary`.
    static func writeBatchFile(_ path: String, rows: Int, width: Int, vocabulary: Int, seed: UInt64, name: String = "tokens") throws {
        var generator = SeededGenerator(seed: seed)
        let ids = (0..<(rows * width)).map { _ in Int32.random(in: 0..<Int32(vocabulary), using: &generator) }
        let bytes = ids.withUnsafeBytes { Array($0) }
        try SafetensorsWriter.write(path: path, tensors: [
            OutputTensor(name: name, shape: [rows, width], encoding: .dense(.i32), byteCount: bytes.count) { try $0.write(bytes) },
        ])
    }

    static func schema(_ name: String) throws -> JSONSchemaValidator {
        JSONSchemaValidator(schema: try JSONParser.parse(try PathUtilities.readBytes(TestModels.repositoryRoot + "/Schemas/" + name)))
    }

    static func records(_ run: String) throws -> [JSONValue] {
        try String(contentsOfFile: run + "/train.jsonl", encoding: .utf8).split(separator: "\n").map { try JSONParser.parse(String($0)) }
    }

    static let recipes = ["--recipes", TestModels.repositoryRoot + "/Converters"]

    @Test("a run writes a schema-valid log, checkpoints (newest --keep kept) and a final model that loads; the loss falls")
    func runWritesLogAndCheckpoints() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let (model, batches) = try Self.fixture(tmp)
        let run = tmp.file("run")
        let result = try TestModels.run(moekit, ["train", "--model", model, "--out", run, "--batch-file", batches, "--steps", "40",
            "--batch", "4", "--lr", "0.01", "--save-every", "10", "--keep", "2", "--eval-every", "20"] + Self.recipes)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("train step 40/40") && result.output.contains("tokens/s") && result.output.contains("ETA"))
        let records = try Self.records(run)
        let logSchema = try Self.schema("train-log.schema.json")
        for record in records { #expect(logSchema.validate(record).isEmpty, "\(JSONWriter.serialize(record))") }
        let steps = records.filter { $0["event"]?.stringValue == "step" }
        #expect(steps.count == 40)
        #expect(records.first?["event"]?.stringValue == "start")
        #expect(records.last?["event"]?.stringValue == "end")
        // Validation before the first step (the baseline), at step 20 and at step 40.
        #expect(records.filter { $0["event"]?.stringValue == "eval" }.compactMap { $0["step"]?.intValue } == [0, 20, 40])
        // 2 MoE layers, 4 experts: the load shares of each layer sum to 1; the HF balanced value is K = 2.
        for step in steps {
            #expect(step["lb_balanced"]?.doubleValue == 2)
            for layer in step["layers"]?.arrayValue ?? [] {
                let load = layer["load"]?.arrayValue?.compactMap(\.doubleValue) ?? []
                #expect(load.count == 4 && abs(load.reduce(0, +) - 1) < 1e-3)
            }
        }
        // Training on 8 fixed rows: the loss of the last steps is well below the first.
        let losses = steps.compactMap { $0["ce"]?.doubleValue }
        let startLoss: Double = losses.prefix(5).reduce(0, +) / 5
        let endLoss: Double = losses.suffix(5).reduce(0, +) / 5
        #expect(endLoss < startLoss - 0.2, "\(losses)")
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: run + "/checkpoints").sorted()
        #expect(checkpoints == ["step-00000030", "step-00000040"])
        let state = try JSONParser.parse(try PathUtilities.readBytes(run + "/checkpoints/step-00000040/trainer_state.json"))
        #expect(try Self.schema("trainer-state.schema.json").validate(state).isEmpty)
        #expect(state["step"]?.intValue == 40 && state["data_cursor"]?["next_row"]?.intValue == 0)
        let optimizer = try SafetensorsFile(path: run + "/checkpoints/step-00000040/optimizer.safetensors")
        #expect(optimizer.tensor(named: "model.embed_tokens.weight.exp_avg_sq") != nil)
        // The final model is an HF directory the other commands read.
        let inspect = try TestModels.run(moekit, ["inspect", run + "/final", "--json"])
        #expect(inspect.status == 0, "\(inspect.output)")
        // … and trains again (the runtime loads it): its first loss is the trained model's, below the untrained start.
        let more = try TestModels.run(moekit, ["train", "--model", run + "/final", "--out", tmp.file("more"), "--batch-file", batches,
            "--steps", "1", "--batch", "4", "--lr", "0"] + Self.recipes)
        #expect(more.status == 0, "\(more.output)")
        let first = try Self.records(tmp.file("more")).first { $0["event"]?.stringValue == "step" }?["ce"]?.doubleValue ?? .nan
        #expect(first < startLoss - 0.2, "reloaded \(first) vs start \(startLoss)")
    }

    /// The two kinds of run a resume must reproduce: the tiny Mixtral on a batch file with SparseMixer's sampled
    /// routing, and the tiny dense LLaMA on a prepared data directory with a dynamic domain mixture (sampler cursor,
    /// mixture weights and reference losses restored).
    enum ResumeCase: String, CaseIterable, CustomTestStringConvertible {
        case batchFileSparseMixer, dataDirectoryDynamicMixture
        var testDescription: String { rawValue }
    }

    static func resumeArguments(_ kind: ResumeCase, _ tmp: TemporaryDirectory) throws -> [String] {
        switch kind {
        case .batchFileSparseMixer:
            let (model, batches) = try fixture(tmp, rows: 13)
            return ["--model", model, "--batch-file", batches, "--steps", "120", "--batch", "3", "--lr", "0.005",
                "--router-estimator", "sparsemixer"]
        case .dataDirectoryDynamicMixture:
            try TinyLlama().writeHFDirectory(tmp.file("tiny"))
            // Domains named as SlimPajama's, so that dynamic-sheared starts from Sheared-LLaMA's proportions.
            for (name, word) in [("book", "apple"), ("c4", "banana"), ("wikipedia", "cherry")] {
                let lines = (0..<60).map { "{\"text\": \"\(word) document \($0) with the \(word) words of \(name) in it\"}" }
                try (lines.joined(separator: "\n") + "\n").write(toFile: tmp.file(name + ".jsonl"), atomically: true, encoding: .utf8)
            }
            let moekit = try CLITests.binary()
            let prepared = try TestModels.run(moekit, ["prepare-data", tmp.file("book.jsonl"), tmp.file("c4.jsonl"), tmp.file("wikipedia.jsonl"),
                "--tokenizer", tmp.file("tiny"), "--out", tmp.file("data"), "--val-min-docs", "4"] + recipes)
            #expect(prepared.status == 0, "\(prepared.output)")
            try "{\"book\": 4.0, \"c4\": 5.0, \"wikipedia\": 3.0}".write(toFile: tmp.file("refs.json"), atomically: true, encoding: .utf8)
            return ["--model", tmp.file("tiny"), "--data", tmp.file("data"), "--seq", "24", "--steps", "60", "--batch", "2",
                "--lr", "0.003", "--mixture", "dynamic-sheared", "--reference-losses", tmp.file("refs.json")]
        }
    }

    @Test("SIGKILL at random moments (also mid-checkpoint), then --resume: the final weights and every step's loss equal an uninterrupted run's",
          arguments: ResumeCase.allCases)
    func resumeAfterKillIsExact(kind: ResumeCase) throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let arguments = try Self.resumeArguments(kind, tmp) + ["--save-every", "3", "--keep", "2", "--eval-every", "25", "--threads", "2"] + Self.recipes
        let started = Date()
        let reference = try TestModels.run(moekit, ["train", "--out", tmp.file("reference")] + arguments)
        #expect(reference.status == 0, "\(reference.output)")
        // Kill moments scale with how long a whole run takes on this machine.
        let duration = max(Date().timeIntervalSince(started), 0.2)

        let run = tmp.file("killed")
        var generator = SeededGenerator(seed: 11)
        var kills = 0
        // Five runs killed at random moments (whatever they were doing: loading, a step, a checkpoint write), then
        // one left to finish.
        for attempt in 0..<6 {
            let resume = !TrainingCheckpointsEmpty(run)
            let child = try MoekitChild(moekit, ["train", "--out", run] + arguments + (resume ? ["--resume"] : attempt > 0 ? ["--force"] : []))
            if attempt < 5 {
                usleep(UInt32(duration * 1e6 * Double.random(in: 0.1...0.5, using: &generator)))
                if child.isRunning {
                    child.send(SIGKILL)
                    _ = child.wait(seconds: 10)
                    kills += 1
                    continue
                }
            }
            let exit = child.wait(seconds: 300)
            #expect(exit?.signaled == false && exit?.status == 0, "attempt \(attempt): \(String(describing: exit))")
            break
        }
        #expect(kills >= 2, "the runs finished too fast to be killed (\(kills) kills)")
        #expect(PathUtilities.exists(run + "/final/model.safetensors"))
        let a = try PathUtilities.readBytes(tmp.file("reference") + "/final/model.safetensors")
        let b = try PathUtilities.readBytes(run + "/final/model.safetensors")
        #expect(a == b, "final weights differ after \(kills) kills")
        func losses(_ run: String) throws -> [String] {
            try Self.records(run).filter { $0["event"]?.stringValue == "step" || $0["event"]?.stringValue == "eval" }
                .map { "\($0["event"]!.stringValue!) \($0["step"]!.intValue!) \(JSONWriter.serialize($0["loss"]!)) \($0["mixture_weights"].map { JSONWriter.serialize($0) } ?? "")" }
        }
        #expect(try losses(run) == losses(tmp.file("reference")))
        // No temporary directory is left once a later run has written checkpoints.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: run + "/checkpoints").filter { !$0.hasPrefix("step-") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    /// Whether `run` has no complete checkpoint yet.
    func TrainingCheckpointsEmpty(_ run: String) -> Bool {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: run + "/checkpoints")) ?? []
        return !names.contains { $0.hasPrefix("step-") && PathUtilities.exists(run + "/checkpoints/" + $0 + "/trainer_state.json") }
    }

    @Test("--train router changes only the router tensors, byte for byte; --train experts leaves routers and attention alone")
    func frozenGroupsByteWise() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let (model, batches) = try Self.fixture(tmp)
        let source = try SafetensorsFile(path: model + "/model.safetensors")
        for (train, changes) in [("router", { (name: String) in name.contains("block_sparse_moe.gate.") }),
                                 ("experts", { (name: String) in name.contains(".experts.") })] {
            let run = tmp.file("run-" + train)
            let result = try TestModels.run(moekit, ["train", "--model", model, "--out", run, "--batch-file", batches, "--steps", "3",
                "--lr", "0.01", "--train", train] + Self.recipes)
            #expect(result.status == 0, "\(result.output)")
            let trained = try SafetensorsFile(path: run + "/final/model.safetensors")
            // The fixture also holds transformers' expected logits, which are not a parameter.
            #expect(Set(trained.tensors.map(\.name)) == Set(source.tensors.map(\.name).filter { !$0.hasPrefix("expected.") }))
            for after in trained.tensors {
                guard let tensor = source.tensor(named: after.name) else { continue }
                let same = Array(tensor.bytes) == Array(after.bytes)
                #expect(same != changes(tensor.name), "--train \(train): \(tensor.name) \(same ? "unchanged" : "changed")")
            }
        }
    }

    @Test("options from a YAML or JSON config file, flags override it; schema violations name the file, line and key")
    func configFile() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let (model, batches) = try Self.fixture(tmp)
        try "model: \(model)\nbatch-file: \(batches)\nsteps: 2\nlr: 0.002\nschedule: constant\n".write(
            toFile: tmp.file("train.yaml"), atomically: true, encoding: .utf8)
        let run = tmp.file("run")
        let result = try TestModels.run(moekit, ["train", "--config", tmp.file("train.yaml"), "--out", run, "--steps", "3"] + Self.recipes)
        #expect(result.status == 0, "\(result.output)")
        let start = try Self.records(run).first!
        #expect(start["options"]?["steps"]?.intValue == 3 && start["options"]?["lr"]?.doubleValue == 0.002)
        #expect(try Self.records(run).filter { $0["event"]?.stringValue == "step" }.allSatisfy { $0["lr"]?.doubleValue == 0.002 })

        try "model: \(model)\nbatch-file: \(batches)\nlb-coef: -1\nwarmpu: 3\n".write(toFile: tmp.file("bad.yaml"), atomically: true, encoding: .utf8)
        let bad = try TestModels.run(moekit, ["train", "--config", tmp.file("bad.yaml"), "--out", tmp.file("bad")] + Self.recipes)
        #expect(bad.status == 1, "\(bad.output)")
        for text in ["bad.yaml", "line 3", "/lb-coef", "warmpu"] { #expect(bad.output.contains(text), "'\(text)' in \(bad.output)") }
        #expect(!PathUtilities.exists(tmp.file("bad")))
        try "{\"model\": \"\(model)\",\n \"steps\": \"ten\"}".write(toFile: tmp.file("bad.json"), atomically: true, encoding: .utf8)
        let badJSON = try TestModels.run(moekit, ["train", "--config", tmp.file("bad.json"), "--out", tmp.file("bad")] + Self.recipes)
        #expect(badJSON.status == 1 && badJSON.output.contains("bad.json") && badJSON.output.contains("/steps"), "\(badJSON.output)")
    }

    @Test("bad input fails before any step with a message naming the file or option")
    func badInput() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let (model, batches) = try Self.fixture(tmp)
        try TinyLlama().writeHFDirectory(tmp.file("dense"))
        try "not safetensors".write(toFile: tmp.file("corrupt.safetensors"), atomically: true, encoding: .utf8)
        try Self.writeBatchFile(tmp.file("wrong-name.safetensors"), rows: 2, width: 5, vocabulary: 11, seed: 1, name: "ids")
        try Self.writeBatchFile(tmp.file("big-ids.safetensors"), rows: 2, width: 5, vocabulary: 500, seed: 1)
        try Self.writeBatchFile(tmp.file("long.safetensors"), rows: 2, width: 80, vocabulary: 11, seed: 1)
        let cases: [([String], [String])] = [
            (["--model", model, "--batch-file", tmp.file("missing.safetensors")], ["missing.safetensors"]),
            (["--model", model, "--batch-file", tmp.file("corrupt.safetensors")], ["corrupt.safetensors"]),
            (["--model", model, "--batch-file", tmp.file("wrong-name.safetensors")], ["wrong-name.safetensors", "'tokens'"]),
            (["--model", model, "--batch-file", tmp.file("big-ids.safetensors")], ["big-ids.safetensors", "vocabulary of 11"]),
            (["--model", model, "--batch-file", tmp.file("long.safetensors")], ["context of 64"]),
            (["--model", tmp.file("dense"), "--batch-file", batches, "--train", "router"], ["dense model", "--train all"]),
            (["--model", model, "--batch-file", batches, "--teacher", tmp.file("dense")], ["vocabulary"]),
            (["--model", model, "--batch-file", batches, "--train", "routers"], ["train"]),
            (["--model", tmp.file("dense"), "--batch-file", batches, "--router-estimator", "sparsemixer"], ["--router-estimator sparsemixer"]),
            (["--model", model], ["data", "batch-file"]),
            (["--model", model, "--batch-file", batches, "--data", tmp.file("nodata")], ["exactly one of data and batch-file"]),
            (["--model", model, "--batch-file", batches, "--lr", "-1"], ["/lr"]),
            (["--model", model, "--data", tmp.file("nodata")], ["nodata"]),
        ]
        for (arguments, expected) in cases {
            let run = tmp.file("run-bad")
            let result = try TestModels.run(moekit, ["train", "--out", run] + arguments + Self.recipes)
            #expect(result.status == 1, "\(arguments): \(result.output)")
            for text in expected { #expect(result.output.contains(text), "\(arguments): expected '\(text)' in \(result.output)") }
            #expect(!PathUtilities.exists(run + "/train.jsonl"), "\(arguments) started training")
        }
        // An existing run is refused without --resume/--force; resuming it with another model is refused too.
        let run = tmp.file("run")
        #expect(try TestModels.run(moekit, ["train", "--model", model, "--out", run, "--batch-file", batches, "--steps", "2", "--save-every", "1"] + Self.recipes).status == 0)
        let again = try TestModels.run(moekit, ["train", "--model", model, "--out", run, "--batch-file", batches] + Self.recipes)
        #expect(again.status == 1 && again.output.contains("--resume") && again.output.contains("--force"), "\(again.output)")
        // --force with an input that fails validation leaves the previous run as it was.
        let failedForce = try TestModels.run(moekit, ["train", "--model", model, "--out", run, "--batch-file", tmp.file("corrupt.safetensors"), "--force"] + Self.recipes)
        #expect(failedForce.status == 1 && PathUtilities.exists(run + "/train.jsonl") && PathUtilities.exists(run + "/final"), "\(failedForce.output)")
        let other = try TestModels.run(moekit, ["train", "--model", tmp.file("dense"), "--out", run, "--resume", "--steps", "3"] + Self.recipes)
        #expect(other.status == 1 && other.output.contains("model"), "\(other.output)")
        let changed = try TestModels.run(moekit, ["train", "--out", run, "--resume", "--steps", "3", "--lr", "0.5"] + Self.recipes)
        #expect(changed.status == 1 && changed.output.contains("lr"), "\(changed.output)")
        let extended = try TestModels.run(moekit, ["train", "--out", run, "--resume", "--steps", "4"] + Self.recipes)
        #expect(extended.status == 0, "\(extended.output)")
        // A step that overflows stops the run, naming the step and the first non-finite tensor; earlier checkpoints stay.
        let exploding = tmp.file("exploding")
        let overflow = try TestModels.run(moekit, ["train", "--model", model, "--out", exploding, "--batch-file", batches, "--steps", "6",
            "--optimizer", "sgd", "--lr", "1e36", "--clip", "0", "--save-every", "1"] + Self.recipes)
        #expect(overflow.status == 1 && overflow.output.contains("non-finite") && overflow.output.contains("step "), "\(overflow.output)")
        #expect(!PathUtilities.exists(exploding + "/final"))
    }
}
