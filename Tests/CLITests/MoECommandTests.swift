import Foundation
import TestSupport
import Testing

@testable import IOCore

/// `moekit upcycle / split / verify / merge-dense` on SmolLM2 (skipped when the model is absent).
@Suite("moekit MoE commands", .serialized)
struct MoECommandTests {
    static func verify(_ moekit: String, _ dense: String, _ moe: String) throws -> JSONValue {
        let (status, output) = try TestModels.run(moekit, ["verify", dense, moe, "--json"])
        #expect(status == 0, "\(output)")
        let line = output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? "{}"
        return try JSONParser.parse(line)
    }

    @Test("SmolLM2: upcycle --experts 4 --top-k 2 (safetensors and GGUF) verifies exact", .requiresSmolLM2, arguments: ["safetensors", "gguf"])
    func upcycleExact(format: String) throws {
        let moekit = try CLITests.binary()
        let model = try TestModels.requireSmolLM2()
        let tmp = TemporaryDirectory()
        let out = tmp.file(format == "gguf" ? "moe.gguf" : "moe")
        let (status, output) = try TestModels.run(moekit, ["upcycle", model, out, "--experts", "4", "--top-k", "2", "--target", "mixtral", "--format", format, "--dtype", "f32"])
        #expect(status == 0, "\(output)")
        let report = try Self.verify(moekit, model, out)
        let maxDelta = try #require(report["max_abs_delta_logit"]?.doubleValue)
        #expect(maxDelta <= 1e-3)
        #expect(report["top1_agreement"]?.doubleValue == 1)
        #expect(report["exact_by_construction"]?.boolValue == true)
        #expect(report["within_1e-4_relative"]?.boolValue == true)
        let ffn = try #require(report["ffn_relative_error"]?.arrayValue)
        #expect(ffn.count == 30)
        #expect((report["ffn_relative_error_max"]?.doubleValue ?? 1) <= 1e-5)
        let manifestPath = format == "gguf" ? out + ".moekit-manifest.json" : out + "/moekit-manifest.json"
        let manifest = try JSONParser.parse(try PathUtilities.readBytes(manifestPath))
        #expect(manifest["operation"]?.stringValue == "upcycle")
        #expect(manifest["sources"]?.arrayValue?.first?["sha256"]?.stringValue?.count == 64)
    }

    @Test("SmolLM2: split K=N exact, split K=2 random finite, merge-dense round trip bit-identical", .requiresSmolLM2)
    func splitVerifyMerge() throws {
        let moekit = try CLITests.binary()
        let model = try TestModels.requireSmolLM2()
        let tmp = TemporaryDirectory()
        var (status, output) = try TestModels.run(moekit, [
            "split", model, tmp.file("exact"), "--experts", "8", "--top-k", "8", "--rescale", "exact", "--router", "zero", "--dtype", "f32",
        ])
        #expect(status == 0, "\(output)")
        var report = try Self.verify(moekit, model, tmp.file("exact"))
        #expect((report["max_abs_delta_logit"]?.doubleValue ?? 1) <= 1e-3)
        #expect(report["exact_by_construction"]?.boolValue == true)
        #expect(report["within_1e-4_relative"]?.boolValue == true)

        (status, output) = try TestModels.run(moekit, ["split", model, tmp.file("random"), "--experts", "8", "--top-k", "2", "--method", "random", "--seed", "3", "--dtype", "f32"])
        #expect(status == 0, "\(output)")
        report = try Self.verify(moekit, model, tmp.file("random"))
        for key in ["max_abs_delta_logit", "mean_abs_delta_logit", "kl_dense_moe", "perplexity_dense", "perplexity_moe"] {
            #expect(report[key]?.doubleValue?.isFinite == true, "\(key)")
        }
        #expect(report["exact_by_construction"]?.boolValue == false)
        // A 2-of-8 split drops most of each FFN's output: per-layer errors are large but finite.
        let values = try #require(report["ffn_relative_error"]?.arrayValue)
        let ffn = values.compactMap(\.doubleValue)
        #expect(ffn.count == 30 && ffn.allSatisfy { $0 > 0.1 && $0.isFinite })

        (status, output) = try TestModels.run(moekit, ["merge-dense", tmp.file("random"), tmp.file("merged")])
        #expect(status == 0, "\(output)")
        (status, output) = try TestModels.run(moekit, ["convert", model, tmp.file("dense"), "--to", "safetensors", "--dtype", "f32"])
        #expect(status == 0, "\(output)")
        #expect(try PathUtilities.readBytes(tmp.file("dense/model.safetensors")) == PathUtilities.readBytes(tmp.file("merged/model.safetensors")))
    }

    @Test("SmolLM2: split --experts 8 --top-k 8 with unit weights (llama-moe, multiply_gate_scores false) verifies exact", .requiresSmolLM2)
    func llamaMoEUnitWeights() throws {
        let moekit = try CLITests.binary()
        let model = try TestModels.requireSmolLM2()
        let tmp = TemporaryDirectory()
        let (status, output) = try TestModels.run(moekit, [
            "split", model, tmp.file("moe"), "--experts", "8", "--top-k", "8", "--rescale", "exact", "--router", "zero",
            "--target", "llama-moe", "--dtype", "f32",
        ])
        #expect(status == 0, "\(output)")
        let config = try JSONParser.parse(try PathUtilities.readBytes(tmp.file("moe/config.json")))
        #expect(config["model_type"]?.stringValue == "llama_moe")
        #expect(config["multiply_gate_scores"]?.boolValue == false)
        #expect(config["score_scale_factor"]?.doubleValue == 1)
        #expect(config["size_experts"]?.arrayValue?.count == 30)
        let report = try Self.verify(moekit, model, tmp.file("moe"))
        #expect((report["max_abs_delta_logit"]?.doubleValue ?? 1) <= 1e-3)
        #expect((report["ffn_relative_error_max"]?.doubleValue ?? 1) <= 1e-5)
        #expect(report["exact_by_construction"]?.boolValue == true)
        #expect(report["within_1e-4_relative"]?.boolValue == true)
    }

    /// English text from the repository's own docs: calibration data that every clean checkout has.
    static func calibrationText(_ tmp: TemporaryDirectory) throws -> String {
        let docs = TestModels.repositoryRoot + "/docs"
        var text = ""
        for name in try FileManager.default.contentsOfDirectory(atPath: docs).sorted() where name.hasSuffix(".md") {
            text += try String(contentsOfFile: docs + "/" + name, encoding: .utf8) + "\n\n"
        }
        let path = tmp.file("calibration.txt")
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("SmolLM2: split --experts 8 --top-k 2 with every method completes; verify reports finite numbers and both perplexities", .requiresSmolLM2)
    func everySplitMethod() throws {
        let moekit = try CLITests.binary()
        let model = try TestModels.requireSmolLM2()
        let tmp = TemporaryDirectory()
        let calibration = ["--calibration", try Self.calibrationText(tmp), "--calibration-tokens", "512"]
        let methods: [(String, [String])] = [
            ("random", []), ("clustering", []), ("gradient", calibration + ["--log", tmp.file("gradient.jsonl")]), ("coactivation", calibration),
            ("sharing-inner", calibration + ["--expert-size", "384"]),
            ("sharing-inter", calibration + ["--expert-size", "128", "--shared-experts", "4", "--target", "qwen2-moe"]),
        ]
        var perplexities: [String: Double] = [:]
        for (method, extra) in methods {
            let out = tmp.file(method)
            let (status, output) = try TestModels.run(moekit, ["split", model, out, "--experts", "8", "--top-k", "2", "--method", method, "--dtype", "f32"] + extra)
            #expect(status == 0, "\(method): \(output)")
            guard status == 0 else { continue }
            let report = try Self.verify(moekit, model, out)
            for key in ["max_abs_delta_logit", "mean_abs_delta_logit", "kl_dense_moe", "perplexity_dense", "perplexity_moe", "ffn_relative_error_max"] {
                #expect(report[key]?.doubleValue?.isFinite == true, "\(method): \(key)")
            }
            #expect(abs((report["perplexity_dense"]?.doubleValue ?? 0) - 10.30) < 0.01, "\(method)")
            perplexities[method] = report["perplexity_moe"]?.doubleValue
            let manifest = try JSONParser.parse(try PathUtilities.readBytes(out + "/moekit-manifest.json"))
            #expect(manifest["method"]?.stringValue == method)
            if method == "gradient" { try Self.expectCalibrationProgress(output: output, log: tmp.file("gradient.jsonl")) }
            try FileManager.default.removeItem(atPath: out)
        }
        // Overlapping experts keep more of each FFN than 2 of 8 disjoint parts do.
        if let inner = perplexities["sharing-inner"], let random = perplexities["random"] { #expect(inner < random) }
    }

    /// The gradient method's calibration shows both passes on stderr and logs every report: samples counted up to
    /// the total in each phase, tokens growing with them, and a final line of each phase with ETA 0s.
    static func expectCalibrationProgress(output: String, log: String) throws {
        let records = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            .map { try JSONParser.parse(Array($0.utf8)) }.filter { $0["event"]?.stringValue == "calibration" }
        for phase in ["forward", "importance"] {
            let reports = records.filter { $0["phase"]?.stringValue == phase }
            let done = reports.compactMap { $0["samples_done"]?.intValue }, tokens = reports.compactMap { $0["tokens_done"]?.intValue }
            let total = reports.first?["samples_total"]?.intValue ?? -1
            #expect(!reports.isEmpty && done.last == total && total > 0, "\(phase): \(done) of \(total)")
            #expect(done == done.sorted() && tokens == tokens.sorted() && tokens.first ?? 0 > 0, "\(phase)")
            #expect(reports.allSatisfy { ($0["samples_per_s"]?.doubleValue ?? -1) >= 0 && $0["eta_s"] != nil })
            #expect(output.contains("calibration \(phase) [\(total)/\(total) samples]"), "\(output)")
        }
        #expect(output.contains("samples/s  ETA 0s"))
    }

    @Test("verify --calibration reads JSON Lines (gzip) and text; bad calibration files fail naming the file", .requiresSmolLM2)
    func verifyCalibration() throws {
        let moekit = try CLITests.binary()
        let model = try TestModels.requireSmolLM2()
        let tmp = TemporaryDirectory()
        var (status, output) = try TestModels.run(moekit, ["upcycle", model, tmp.file("moe"), "--experts", "2", "--top-k", "1", "--dtype", "f32"])
        #expect(status == 0, "\(output)")
        // A gzip JSON Lines corpus made here with gzip(1), long enough for 64 tokens.
        let sentences = [
            "The river rises in the northern hills and flows south through farmland and two market towns.",
            "Its valley was settled early, and the old stone bridges still carry the roads that follow it.",
            "In spring the water runs high with melted snow; by late summer it is shallow enough to wade.",
            "Fishermen gather at the weir each autumn, when the salmon return upstream to the gravel beds.",
            "A canal built beside the lower reach once carried coal and grain to the port at the estuary.",
        ]
        let lines = sentences.map { "{\"text\": \"\($0)\"}\n" }.joined()
        try Data(lines.utf8).write(to: URL(fileURLWithPath: tmp.file("corpus.jsonl")))
        (status, output) = try TestModels.run("/usr/bin/env", ["gzip", tmp.file("corpus.jsonl")])
        #expect(status == 0, "\(output)")
        let corpus = tmp.file("corpus.jsonl.gz")
        (status, output) = try TestModels.run(moekit, ["verify", model, tmp.file("moe"), "--calibration", corpus, "--max-tokens", "64", "--json"])
        #expect(status == 0, "\(output)")
        let report = try JSONParser.parse(String(output.split(separator: "\n").last { $0.hasPrefix("{") } ?? "{}"))
        #expect(report["tokens"]?.intValue == 64)
        #expect((report["max_abs_delta_logit"]?.doubleValue ?? 1) <= 1e-3)
        try Data("{\"text\": \"The cat sat on the mat.\"}\n{\"body\": 1}\n".utf8).write(to: URL(fileURLWithPath: tmp.file("bad.jsonl")))
        try Data(" \n\t\n".utf8).write(to: URL(fileURLWithPath: tmp.file("blank.txt")))
        let cases: [(String, String)] = [
            (tmp.file("blank.txt"), "holds no text"), (model, "expected UTF-8 text"),
            (tmp.file("bad.jsonl"), "bad.jsonl:2: field 'text' is missing"), (tmp.file("absent.txt"), "cannot read"),
        ]
        for (file, message) in cases {
            (status, output) = try TestModels.run(moekit, ["verify", model, tmp.file("moe"), "--calibration", file, "--max-tokens", "10000"])
            #expect(status == 1, "\(file): \(output)")
            #expect(output.contains(message), "\(output)")
        }
    }

    @Test("bad options fail with status 1 before writing; --dry-run writes nothing", .requiresSmolLM2)
    func badOptions() throws {
        let moekit = try CLITests.binary()
        let model = try TestModels.requireSmolLM2()
        let tmp = TemporaryDirectory()
        let cases: [[String]] = [
            ["split", model, tmp.file("o"), "--experts", "7", "--top-k", "2"],  // 7 ∤ 1536
            ["upcycle", model, tmp.file("o"), "--experts", "4", "--top-k", "5"],
            ["split", model, tmp.file("o"), "--experts", "8", "--top-k", "2", "--method", "bogus"],
            ["upcycle", model, tmp.file("o"), "--experts", "4", "--top-k", "2", "--target", "nonsense"],
            ["upcycle", model, tmp.file("o"), "--experts", "4", "--top-k", "2", "--shared-experts", "1"],
            ["upcycle", model, tmp.file("o"), "--experts", "4", "--top-k", "2", "--dense-layers", "0,29"],
            ["upcycle", model, tmp.file("o.gguf"), "--experts", "4", "--top-k", "2", "--dense-layers", "0", "--target", "qwen2-moe", "--format", "gguf"],
            ["upcycle", model, tmp.file("o.gguf"), "--experts", "4", "--top-k", "2", "--target", "llama-moe", "--format", "gguf"],
            ["upcycle", model, tmp.file("o.gguf"), "--experts", "4", "--top-k", "2", "--target", "olmoe", "--format", "gguf"],  // 3 KV heads of 9
            ["split", model, tmp.file("o"), "--experts", "8", "--top-k", "2", "--method", "gradient"],  // no --calibration
            ["split", model, tmp.file("o"), "--experts", "8", "--top-k", "2", "--rescale", "calibrated", "--calibration", tmp.file("blank.txt")],
            ["split", model, tmp.file("o"), "--experts", "8", "--top-k", "2", "--method", "coactivation", "--calibration", model],
            ["split", model, tmp.file("o"), "--experts", "8", "--top-k", "2", "--method", "sharing-inner", "--calibration", tmp.file("blank.txt")],
        ]
        try Data(" \n".utf8).write(to: URL(fileURLWithPath: tmp.file("blank.txt")))
        for arguments in cases {
            let (status, output) = try TestModels.run(moekit, arguments)
            #expect(status == 1, "\(arguments): \(output)")
            #expect(output.contains("error: "), "\(output)")
            #expect(!FileManager.default.fileExists(atPath: tmp.file("o")))
        }
        let (status, output) = try TestModels.run(moekit, ["upcycle", model, tmp.file("o"), "--experts", "4", "--top-k", "2", "--dry-run", "--json"])
        #expect(status == 0)
        let plan = try JSONParser.parse(String(output.split(separator: "\n").last { $0.hasPrefix("{") } ?? "{}"))
        #expect((plan["total_parameters"]?.intValue ?? 0) > (plan["active_parameters_per_token"]?.intValue ?? 0))
        #expect(!FileManager.default.fileExists(atPath: tmp.file("o")))
        let (_, unknown) = try TestModels.run(moekit, ["upcycle", model, tmp.file("o"), "--experts", "4", "--top-k", "2", "--target", "nonsense"])
        #expect(unknown.contains("known: llama-moe, mixtral, olmoe, qwen2-moe"), "\(unknown)")
        let (qwenStatus, qwenOutput) = try TestModels.run(moekit, [
            "upcycle", model, tmp.file("o"), "--experts", "4", "--top-k", "2", "--target", "qwen2-moe", "--shared-experts", "1",
            "--dense-layers", "0,29", "--dry-run", "--json",
        ])
        #expect(qwenStatus == 0, "\(qwenOutput)")
        let qwen = try JSONParser.parse(String(qwenOutput.split(separator: "\n").last { $0.hasPrefix("{") } ?? "{}"))
        #expect(qwen["layers"]?.arrayValue?.map { $0["dense"]?.boolValue ?? false }.filter { $0 }.count == 2)
        #expect(qwen["shared_expert_width"]?.intValue == 1536)
        #expect(qwen["config_changes"]?["added"]?["mlp_only_layers"] == .array([.integer(0), .integer(29)]))
        let (splitStatus, splitOutput) = try TestModels.run(moekit, [
            "split", model, tmp.file("o"), "--experts", "8", "--top-k", "2", "--target", "qwen2-moe", "--dry-run",
        ])
        #expect(splitStatus == 0, "\(splitOutput)")
        #expect(splitOutput.contains("warning: qwen2-moe does not renormalise the top-k weights"), "\(splitOutput)")
        #expect(!FileManager.default.fileExists(atPath: tmp.file("o")))
    }
}
