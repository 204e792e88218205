import Formats
import Foundation
import IOCore
import Runtime
import TensorCore
import TestSupport
import Testing

/// The source families added as recipes (Mistral, Qwen2, Qwen3, Llama-3.x) go through the same commands as LLaMA:
/// upcycling into a renormalising MoE target is exact by construction (N identical experts whose top-k weights sum
/// to 1), so the MoE's logits must equal the dense model's; GGUF → HF conversion must give back the same logits;
/// and an exact K = N split must too. Fixtures: the tiny transformers models of Tests/RuntimeTests/Fixtures.
@Suite("Source families through upcycle, split and convert", .serialized)
struct SourceFamilyTests {
    static var fixtures: String { TestModels.repositoryRoot + "/Tests/RuntimeTests/Fixtures" }
    static var binary: String { TestModels.repositoryRoot + "/.build/release/moekit" }
    static var hasBinary: Bool { FileManager.default.isExecutableFile(atPath: binary) }

    /// Writes fixture `name` as a Hugging Face directory (config.json + model.safetensors, without the oracle
    /// logits) and returns the directory, the dense model and the test tokens.
    static func denseDirectory(_ name: String, in tmp: TemporaryDirectory) throws -> (path: String, model: LanguageModel, tokens: [Int32]) {
        let directory = tmp.file(name)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var json = try JSONParser.parse(try PathUtilities.readBytes(fixtures + "/\(name).json"))
        let tokens = (json["test_tokens"]?.arrayValue ?? []).compactMap { $0.intValue.map { Int32($0) } }
        if case .object(var object) = json {
            object["test_tokens"] = nil
            json = .object(object)
        }
        try AtomicFileWriter.write(Array(JSONWriter.serialize(json, indent: 1).utf8), to: directory + "/config.json")
        let checkpoint = try SafetensorsCheckpoint(path: fixtures + "/\(name).safetensors")
        let tensors = checkpoint.tensors.filter { $0.name != "expected.logits" }.map { OutputTensor(copying: $0) }
        try SafetensorsWriter.write(path: directory + "/model.safetensors", tensors: tensors)
        let (model, _) = try LanguageModel.load(path: directory)
        return (directory, model, tokens)
    }

    static func run(_ arguments: [String]) throws {
        let (status, output) = try TestModels.run(binary, arguments)
        #expect(status == 0, "moekit \(arguments.joined(separator: " ")): \(output)")
    }

    static func maxDifference(_ a: LanguageModel, _ b: LanguageModel, _ tokens: [Int32]) throws -> Float {
        let x = try a.logits(tokens).values, y = try b.logits(tokens).values
        #expect(x.count == y.count)
        return zip(x, y).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    @Test(
        "upcycle into the family's MoE target equals the dense logits",
        .enabled(if: hasBinary, "needs .build/release/moekit (swift build -c release --product moekit)"),
        arguments: [
            ("tiny_mistral", "mixtral"), ("tiny_llama3", "mixtral"), ("tiny_qwen2", "qwen2-moe"),
            ("tiny_qwen3", "qwen3-moe"),
        ])
    func upcycle(name: String, target: String) throws {
        Matmul.useSingleThreadedBLAS()
        let tmp = TemporaryDirectory()
        let (dense, model, tokens) = try Self.denseDirectory(name, in: tmp)
        let out = tmp.file("\(name)-\(target)")
        // Qwen2-MoE does not renormalise the top-k weights: upcycling is exact only with a zero router
        // (docs/transforms.md, "Which conversions are exact by construction").
        let router = target == "qwen2-moe" ? ["--router", "zero"] : []
        try Self.run(["upcycle", dense, out, "--experts", "4", "--top-k", "2", "--target", target, "--seed", "3", "--dtype", "f32"] + router)
        let (moe, _) = try LanguageModel.load(path: out)
        #expect(moe.config.moe?.expertCount == 4)
        #expect(moe.config.family == target)
        let delta = try Self.maxDifference(model, moe, tokens)
        print("\(name) → \(target): max |Δ logits| = \(delta)")
        #expect(delta <= 1e-5)
        // The manifest says so too (a target that keeps the source's own q/k norms stays exact).
        let manifest = try JSONParser.parse(try PathUtilities.readBytes(out + "/moekit-manifest.json"))
        #expect(manifest["exact_by_construction"] == .bool(true))
    }

    @Test(
        "an exact K = N split equals the dense logits",
        .enabled(if: hasBinary, "needs .build/release/moekit (swift build -c release --product moekit)"),
        arguments: ["tiny_mistral", "tiny_llama3", "tiny_qwen3"])
    func exactSplit(name: String) throws {
        Matmul.useSingleThreadedBLAS()
        let tmp = TemporaryDirectory()
        let (dense, model, tokens) = try Self.denseDirectory(name, in: tmp)
        let target = name == "tiny_qwen3" ? "qwen3-moe" : "mixtral"
        let out = tmp.file("\(name)-split")
        try Self.run([
            "split", dense, out, "--experts", "4", "--top-k", "4", "--rescale", "exact", "--router", "zero", "--target", target,
            "--dtype", "f32",
        ])
        let (moe, _) = try LanguageModel.load(path: out)
        let delta = try Self.maxDifference(model, moe, tokens)
        print("\(name) split 4/4: max |Δ logits| = \(delta)")
        #expect(delta <= 1e-5)
    }

    @Test(
        "HF → GGUF → HF keeps the logits",
        .enabled(if: hasBinary, "needs .build/release/moekit (swift build -c release --product moekit)"),
        arguments: ["tiny_mistral", "tiny_qwen2", "tiny_qwen3", "tiny_llama3"])
    func convertRoundTrip(name: String) throws {
        Matmul.useSingleThreadedBLAS()
        let tmp = TemporaryDirectory()
        let (dense, model, tokens) = try Self.denseDirectory(name, in: tmp)
        let gguf = tmp.file("\(name).gguf")
        try Self.run(["convert", dense, gguf, "--to", "gguf", "--dtype", "f32", "--allow-no-vocab"])
        let (fromGGUF, _) = try LanguageModel.load(path: gguf)
        #expect(try Self.maxDifference(model, fromGGUF, tokens) <= 1e-6)
        let back = tmp.file("\(name)-back")
        try Self.run(["convert", gguf, back, "--to", "safetensors", "--dtype", "f32"])
        let (roundTrip, _) = try LanguageModel.load(path: back)
        #expect(try Self.maxDifference(model, roundTrip, tokens) <= 1e-6)
    }
}
