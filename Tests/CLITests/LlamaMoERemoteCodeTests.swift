import Foundation
import IOCore
import TestSupport
import Testing

/// Every Hugging Face directory of the llama-moe family that moekit writes — split, upcycle, `convert` HF → HF, and
/// a training run's checkpoints and final model — carries the modelling code the recipe names
/// (Converters/remote-code/llama_moe/), byte for byte, and config.json's `auto_map` from the recipe; other targets
/// get neither. No Python needed: LlamaMoECrossCheckTests loads the files in transformers (opt-in).
@Suite("LLaMA-MoE remote code in every llama-moe output")
struct LlamaMoERemoteCodeTests {
    static let recipes = ["--recipes", TestModels.repositoryRoot + "/Converters"]
    static let shippedNames = ["configuration_llama_moe.py", "modeling_llama_moe.py"]

    /// The recipe's remote_code block as written in Converters/llama-moe.json: (file name → bytes, auto_map).
    static func shipped() throws -> (files: [String: [UInt8]], autoMap: JSONValue) {
        let recipePath = TestModels.repositoryRoot + "/Converters/llama-moe.json"
        let recipe = try JSONParser.parse(try PathUtilities.readBytes(recipePath))
        let code = try #require(recipe["remote_code"])
        var files: [String: [UInt8]] = [:]
        for relative in try #require(code["files"]?.arrayValue).compactMap(\.stringValue) {
            let name = URL(fileURLWithPath: relative).lastPathComponent
            files[name] = try PathUtilities.readBytes(TestModels.repositoryRoot + "/Converters/" + relative)
        }
        return (files, try #require(code["auto_map"]))
    }

    /// Asserts `directory` holds the shipped files byte for byte and the recipe's auto_map.
    static func expectRemoteCode(_ directory: String, _ what: String) throws {
        let (files, autoMap) = try shipped()
        #expect(files.keys.sorted() == shippedNames, "\(what)")
        for (name, bytes) in files {
            let path = directory + "/" + name
            #expect(FileManager.default.fileExists(atPath: path), "\(what): \(name) missing")
            if FileManager.default.fileExists(atPath: path) {
                #expect(try PathUtilities.readBytes(path) == bytes, "\(what): \(name) differs from the shipped file")
            }
        }
        let config = try JSONParser.parse(try PathUtilities.readBytes(directory + "/config.json"))
        #expect(config["auto_map"] == autoMap, "\(what): auto_map \(String(describing: config["auto_map"]))")
    }

    /// Writes a tiny dense model to `tmp/dense` and splits it into a 2-expert top-1 llama-moe directory `tmp/moe`.
    static func splitTinyLlamaMoE(_ moekit: String, _ tmp: TemporaryDirectory) throws {
        try TinyLlama().writeHFDirectory(tmp.file("dense"))
        let run = try TestModels.run(moekit, ["split", tmp.file("dense"), tmp.file("moe"), "--experts", "2", "--top-k", "1",
            "--target", "llama-moe"] + Self.recipes)
        try #require(run.status == 0, "\(run.output)")
    }

    /// A tiny dense LLaMA whose config.json carries a stale auto_map (as remote-code dense models do).
    static func denseWithForeignAutoMap(_ tmp: TemporaryDirectory) throws -> String {
        let dense = tmp.file("dense")
        try TinyLlama().writeHFDirectory(dense)
        guard case .object(var config) = try JSONParser.parse(try PathUtilities.readBytes(dense + "/config.json")) else {
            throw MissingFixture("TinyLlama config.json is not an object")
        }
        config["auto_map"] = .object(JSONObject([("AutoModelForCausalLM", .string("modeling_dense.DenseForCausalLM"))]))
        try AtomicFileWriter.write(JSONWriter.bytes(.object(config), indent: 2), to: dense + "/config.json")
        return dense
    }

    @Test("split (random, clustering, exact) and upcycle to llama-moe write the shipped files and auto_map; merge-dense does not")
    func splitAndUpcycle() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let dense = try Self.denseWithForeignAutoMap(tmp)
        let runs: [(String, [String])] = [
            ("split-random", ["split", dense, tmp.file("split-random"), "--experts", "4", "--top-k", "2", "--method", "random"]),
            ("split-clustering", ["split", dense, tmp.file("split-clustering"), "--experts", "4", "--top-k", "2",
                "--method", "clustering", "--rescale", "n-over-k"]),
            ("split-exact", ["split", dense, tmp.file("split-exact"), "--experts", "4", "--top-k", "4", "--rescale", "exact",
                "--router", "zero"]),
            ("upcycle", ["upcycle", dense, tmp.file("upcycle"), "--experts", "4", "--top-k", "2"]),
        ]
        for (name, arguments) in runs {
            let run = try TestModels.run(moekit, arguments + ["--target", "llama-moe", "--seed", "3"] + Self.recipes)
            #expect(run.status == 0, "\(name): \(run.output)")
            try Self.expectRemoteCode(tmp.file(name), name)
        }
        // merge-dense gives back the dense model: its own config (auto_map included), not LLaMA-MoE's code.
        let merged = try TestModels.run(moekit, ["merge-dense", tmp.file("split-random"), tmp.file("merged")] + Self.recipes)
        #expect(merged.status == 0, "\(merged.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.file("merged")).allSatisfy { !$0.hasSuffix(".py") })
        let denseMap = try JSONParser.parse(try PathUtilities.readBytes(dense + "/config.json"))["auto_map"]
        #expect(try JSONParser.parse(try PathUtilities.readBytes(tmp.file("merged/config.json")))["auto_map"] == denseMap)
        // The dry run says so.
        let dry = try TestModels.run(moekit, ["split", dense, tmp.file("dry"), "--experts", "4", "--top-k", "2", "--target", "llama-moe",
            "--dry-run", "--json"] + Self.recipes)
        #expect(dry.status == 0, "\(dry.output)")
        #expect(dry.output.contains("adds transformers remote code configuration_llama_moe.py, modeling_llama_moe.py"), "\(dry.output)")
    }

    @Test("an installed binary (scripts/install.sh PREFIX) finds the remote code under PREFIX/share/moekit with no variables")
    func installedBinaryWritesRemoteCode() throws {
        _ = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let prefix = tmp.file("prefix")
        var run = try EvalCommandTests.runClean("/bin/bash", [TestModels.repositoryRoot + "/scripts/install.sh", "--no-build", prefix])
        #expect(run.status == 0, "\(run.output)")
        try FileManager.default.createDirectory(atPath: tmp.file("elsewhere"), withIntermediateDirectories: true)
        try TinyLlama().writeHFDirectory(tmp.file("elsewhere/dense"))
        run = try EvalCommandTests.runClean(prefix + "/bin/moekit", ["split", "dense", "moe", "--experts", "2", "--top-k", "1",
            "--target", "llama-moe"], in: tmp.file("elsewhere"))
        #expect(run.status == 0, "\(run.output)")
        try Self.expectRemoteCode(tmp.file("elsewhere/moe"), "installed binary")
    }

    @Test("other targets get no remote code, and the dense source's stale auto_map is dropped")
    func otherTargetsHaveNone() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let dense = try Self.denseWithForeignAutoMap(tmp)
        for target in ["mixtral", "qwen2-moe"] {
            let out = tmp.file(target)
            let run = try TestModels.run(moekit, ["upcycle", dense, out, "--experts", "4", "--top-k", "2", "--target", target] + Self.recipes)
            #expect(run.status == 0, "\(target): \(run.output)")
            let names = try FileManager.default.contentsOfDirectory(atPath: out)
            #expect(!names.contains { $0.hasSuffix(".py") }, "\(target): \(names)")
            let config = try JSONParser.parse(try PathUtilities.readBytes(out + "/config.json"))
            #expect(config["auto_map"] == nil, "\(target): \(String(describing: config["auto_map"]))")
        }
    }

    @Test("convert HF → HF of a llama-moe directory with foreign code writes moekit's files and auto_map")
    func convertReplacesForeignCode() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        try Self.splitTinyLlamaMoE(moekit, tmp)
        // As LLaMA-MoE's released checkpoints: their own code and an auto_map pointing at modeling_llama_moe_hf.
        let upstream = tmp.file("moe")
        try AtomicFileWriter.write(Array("# upstream\n".utf8), to: upstream + "/configuration_llama_moe.py")
        try AtomicFileWriter.write(Array("# upstream\n".utf8), to: upstream + "/modeling_llama_moe_hf.py")
        try FileManager.default.removeItem(atPath: upstream + "/modeling_llama_moe.py")
        guard case .object(var config) = try JSONParser.parse(try PathUtilities.readBytes(upstream + "/config.json")) else {
            throw MissingFixture("split config.json is not an object")
        }
        config["auto_map"] = .object(JSONObject([
            ("AutoConfig", .string("configuration_llama_moe.LlamaMoEConfig")),
            ("AutoModelForCausalLM", .string("modeling_llama_moe_hf.LlamaMoEForCausalLM")),
        ]))
        try AtomicFileWriter.write(JSONWriter.bytes(.object(config), indent: 2), to: upstream + "/config.json")
        var run = try TestModels.run(moekit, ["convert", upstream, tmp.file("converted"), "--dtype", "bf16"] + Self.recipes)
        #expect(run.status == 0, "\(run.output)")
        try Self.expectRemoteCode(tmp.file("converted"), "convert")
        #expect(!FileManager.default.fileExists(atPath: tmp.file("converted/modeling_llama_moe_hf.py")))
        // A dense family's HF → HF conversion is unchanged: no code, no auto_map.
        run = try TestModels.run(moekit, ["convert", tmp.file("dense"), tmp.file("dense-bf16"), "--dtype", "bf16"] + Self.recipes)
        #expect(run.status == 0, "\(run.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.file("dense-bf16")).allSatisfy { !$0.hasSuffix(".py") })
    }

    @Test("a training run on a llama-moe model writes the files into every checkpoint and the final model")
    func trainingCheckpoints() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        try Self.splitTinyLlamaMoE(moekit, tmp)
        // The model being trained has no remote code of its own: the checkpoints get it from the recipe.
        for name in Self.shippedNames { try FileManager.default.removeItem(atPath: tmp.file("moe/" + name)) }
        try TrainCommandTests.writeBatchFile(tmp.file("batches.safetensors"), rows: 6, width: 9, vocabulary: TinyLlama.vocabularySize, seed: 2)
        let run = try TestModels.run(moekit, ["train", "--model", tmp.file("moe"), "--out", tmp.file("run"), "--batch-file",
            tmp.file("batches.safetensors"), "--steps", "2", "--batch", "2", "--save-every", "1", "--keep", "2"] + Self.recipes)
        #expect(run.status == 0, "\(run.output)")
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: tmp.file("run/checkpoints")).filter { $0.hasPrefix("step-") }.sorted()
        #expect(checkpoints == ["step-00000001", "step-00000002"])
        for checkpoint in checkpoints { try Self.expectRemoteCode(tmp.file("run/checkpoints/" + checkpoint), checkpoint) }
        try Self.expectRemoteCode(tmp.file("run/final"), "final")
    }
}
