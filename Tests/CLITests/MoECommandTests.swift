import Foundation
import TestSupport
import Testing

@testable import Formats

/// `moekit upcycle / split / verify / merge-dense` on SmolLM2 (skipped when the model is absent).
@Suite("moekit MoE commands", .serialized)
struct MoECommandTests {
    static func verify(_ moekit: String, _ dense: String, _ moe: String) throws -> JSONValue {
        let (status, output) = try TestModels.run(moekit, ["verify", dense, moe, "--json"])
        #expect(status == 0, "\(output)")
        let line = output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? "{}"
        return try JSONParser.parse(line)
    }

    @Test("SmolLM2: upcycle --experts 4 --top-k 2 (safetensors and GGUF) verifies exact", arguments: ["safetensors", "gguf"])
    func upcycleExact(format: String) throws {
        guard let moekit = CLITests.binary(), let model = TestModels.smolLM2() else { return }
        let tmp = TemporaryDirectory()
        let out = tmp.file(format == "gguf" ? "moe.gguf" : "moe")
        let (status, output) = try TestModels.run(moekit, ["upcycle", model, out, "--experts", "4", "--top-k", "2", "--target", "mixtral", "--format", format])
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

    @Test("SmolLM2: split K=N exact, split K=2 random finite, merge-dense round trip bit-identical")
    func splitVerifyMerge() throws {
        guard let moekit = CLITests.binary(), let model = TestModels.smolLM2() else { return }
        let tmp = TemporaryDirectory()
        var (status, output) = try TestModels.run(moekit, [
            "split", model, tmp.file("exact"), "--experts", "8", "--top-k", "8", "--rescale", "exact", "--router", "zero",
        ])
        #expect(status == 0, "\(output)")
        var report = try Self.verify(moekit, model, tmp.file("exact"))
        #expect((report["max_abs_delta_logit"]?.doubleValue ?? 1) <= 1e-3)
        #expect(report["exact_by_construction"]?.boolValue == true)
        #expect(report["within_1e-4_relative"]?.boolValue == true)

        (status, output) = try TestModels.run(moekit, ["split", model, tmp.file("random"), "--experts", "8", "--top-k", "2", "--method", "random", "--seed", "3"])
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

    @Test("verify --calibration reads JSON Lines (gzip) and text; bad calibration files fail naming the file")
    func verifyCalibration() throws {
        guard let moekit = CLITests.binary(), let model = TestModels.smolLM2() else { return }
        let tmp = TemporaryDirectory()
        var (status, output) = try TestModels.run(moekit, ["upcycle", model, tmp.file("moe"), "--experts", "2", "--top-k", "1"])
        #expect(status == 0, "\(output)")
        let corpus = TestModels.repositoryRoot + "/../shared/data/corpus/wikipedia.jsonl.gz"
        if FileManager.default.fileExists(atPath: corpus) {
            (status, output) = try TestModels.run(moekit, ["verify", model, tmp.file("moe"), "--calibration", corpus, "--max-tokens", "64", "--json"])
            #expect(status == 0, "\(output)")
            let report = try JSONParser.parse(String(output.split(separator: "\n").last { $0.hasPrefix("{") } ?? "{}"))
            #expect(report["tokens"]?.intValue == 64)
            #expect((report["max_abs_delta_logit"]?.doubleValue ?? 1) <= 1e-3)
        }
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

    @Test("bad options fail with status 1 before writing; --dry-run writes nothing")
    func badOptions() throws {
        guard let moekit = CLITests.binary(), let model = TestModels.smolLM2() else { return }
        let tmp = TemporaryDirectory()
        let cases: [[String]] = [
            ["split", model, tmp.file("o"), "--experts", "7", "--top-k", "2"],  // 7 ∤ 1536
            ["upcycle", model, tmp.file("o"), "--experts", "4", "--top-k", "5"],
            ["split", model, tmp.file("o"), "--experts", "8", "--top-k", "2", "--method", "bogus"],
            ["upcycle", model, tmp.file("o"), "--experts", "4", "--top-k", "2", "--target", "nonsense"],
            ["upcycle", model, tmp.file("o"), "--experts", "4", "--top-k", "2", "--shared-experts", "1"],
            ["upcycle", model, tmp.file("o"), "--experts", "4", "--top-k", "2", "--dense-layers", "0,29"],
            ["upcycle", model, tmp.file("o"), "--experts", "4", "--top-k", "2", "--dense-layers", "0", "--target", "qwen2-moe", "--format", "gguf"],
            ["upcycle", model, tmp.file("o"), "--experts", "4", "--top-k", "2", "--target", "llama-moe", "--format", "gguf"],
            ["upcycle", model, tmp.file("o"), "--experts", "4", "--top-k", "2", "--target", "olmoe", "--format", "gguf"],  // 3 KV heads of 9
        ]
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
        #expect(!FileManager.default.fileExists(atPath: tmp.file("o")))
    }
}
