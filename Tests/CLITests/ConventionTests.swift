import Foundation
import TestSupport
import Testing
import TensorCore

@testable import Conversion
@testable import Formats
@testable import IOCore

/// Conventions users bring (issue 11 item 2) and commands that say what happened (item 4): the output format from
/// the extension, same-format convert, dtype defaults and spellings, shard sizes, vocabularies, cross-format
/// compare, verify --tolerance and option messages. Each test failed before the change it covers.
@Suite("moekit conventions and messages", .serialized)
struct ConventionTests {
    static let recipes = ["--recipes", TestModels.repositoryRoot + "/Converters"]

    /// A tiny HF directory (F32 unless `dtype`), optionally without tokenizer files.
    static func tinyHF(_ tmp: TemporaryDirectory, _ name: String = "hf", dtype: DType = .f32, tokenizer: Bool = true) throws -> String {
        var model = TinyLlama()
        model.dtype = dtype
        let path = tmp.file(name)
        try model.writeHFDirectory(path)
        if !tokenizer {
            for file in ["tokenizer.json", "tokenizer_config.json"] { try? FileManager.default.removeItem(atPath: path + "/" + file) }
        }
        return path
    }

    static func isDirectory(_ path: String) -> Bool { PathUtilities.isDirectory(path) }

    /// The dtype names of a GGUF's or HF directory's matrices.
    static func matrixTypes(_ path: String) throws -> Set<String> {
        let checkpoint = try OpenedCheckpoint.open(path)
        return Set(checkpoint.tensors.filter { $0.shape.count >= 2 }.map { $0.encoding.description })
    }

    @Test("split/upcycle/convert: OUT.gguf writes a GGUF file, any other name an HF directory; --to/--format optional")
    func formatFromExtension() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let hf = try Self.tinyHF(tmp)
        var r = try TestModels.run(moekit, ["split", hf, tmp.file("s.gguf"), "--experts", "4", "--top-k", "2"] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        #expect(!Self.isDirectory(tmp.file("s.gguf")))
        #expect(try CheckpointInspection.isGGUF(tmp.file("s.gguf")))
        r = try TestModels.run(moekit, ["upcycle", hf, tmp.file("u.gguf"), "--experts", "2", "--top-k", "1"] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        #expect(try CheckpointInspection.isGGUF(tmp.file("u.gguf")))
        r = try TestModels.run(moekit, ["upcycle", hf, tmp.file("u-dir"), "--experts", "2", "--top-k", "1"] + Self.recipes)
        #expect(r.status == 0 && Self.isDirectory(tmp.file("u-dir")), "\(r.output)")
        r = try TestModels.run(moekit, ["convert", hf, tmp.file("c.gguf")] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        #expect(try CheckpointInspection.isGGUF(tmp.file("c.gguf")))
        r = try TestModels.run(moekit, ["convert", tmp.file("c.gguf"), tmp.file("back")] + Self.recipes)
        #expect(r.status == 0 && Self.isDirectory(tmp.file("back")), "\(r.output)")
    }

    @Test("num_hidden_layers that disagrees with the tensors is refused by split, upcycle and convert, naming config.json and the count",
        arguments: [1, 3, 1_000_000_000_000])
    func blockCountChecked(layers: Int) throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let hf = try Self.tinyHF(tmp)  // two blocks
        var config = try JSONParser.parse(try PathUtilities.readBytes(hf + "/config.json")).objectValue!
        config["num_hidden_layers"] = .integer(Int64(layers))
        try Data(JSONWriter.serialize(.object(config)).utf8).write(to: URL(fileURLWithPath: hf + "/config.json"))
        for command in [
            ["split", hf, tmp.file("s"), "--experts", "4", "--top-k", "2"], ["upcycle", hf, tmp.file("u"), "--experts", "2", "--top-k", "1"],
            ["convert", hf, tmp.file("c.gguf")],
        ] {
            let r = try TestModels.run(moekit, command + Self.recipes)
            #expect(r.status == 1, "\(command[0]): \(r.output)")
            #expect(r.output.contains("config.json") && r.output.contains("num_hidden_layers") && r.output.contains("\(layers)"), "\(command[0]): \(r.output)")
            #expect(!FileManager.default.fileExists(atPath: command[2]), "\(command[0]) wrote \(command[2])")
        }
    }

    @Test("an explicit --to/--format that contradicts OUT's extension is refused before anything is written",
        arguments: [
            ["convert", "IN", "OUT.gguf", "--to", "safetensors"], ["convert", "IN", "OUT", "--to", "gguf"],
            ["split", "IN", "OUT.gguf", "--experts", "4", "--top-k", "2", "--format", "safetensors"],
            ["upcycle", "IN", "OUT", "--experts", "2", "--top-k", "1", "--format", "gguf"],
        ])
    func contradictingFormat(arguments: [String]) throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let hf = try Self.tinyHF(tmp)
        let out = tmp.file(arguments[2])
        let r = try TestModels.run(moekit, arguments.map { $0 == "IN" ? hf : $0 == arguments[2] ? out : $0 } + Self.recipes)
        #expect(r.status == 1, "\(r.output)")
        #expect(r.output.contains("contradicts the output \(out)"), "\(r.output)")
        #expect(!PathUtilities.exists(out))
    }

    @Test("merge-dense refuses an output ending in .gguf (it writes an HF directory) instead of a directory named x.gguf")
    func mergeDenseGGUFName() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let hf = try Self.tinyHF(tmp)
        var r = try TestModels.run(moekit, ["split", hf, tmp.file("sp"), "--experts", "4", "--top-k", "2"] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        r = try TestModels.run(moekit, ["merge-dense", tmp.file("sp"), tmp.file("dense.gguf")] + Self.recipes)
        #expect(r.status == 1 && r.output.contains("merge-dense writes a Hugging Face directory"), "\(r.output)")
        #expect(!PathUtilities.exists(tmp.file("dense.gguf")))
    }

    @Test("convert GGUF → GGUF requantizes/casts; HF → HF casts and reshards; output == input refused")
    func sameFormatConvert() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let hf = try Self.tinyHF(tmp)
        var r = try TestModels.run(moekit, ["convert", hf, tmp.file("f32.gguf")] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        r = try TestModels.run(moekit, ["convert", tmp.file("f32.gguf"), tmp.file("q8.gguf"), "--dtype", "q8_0"] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        let q8 = try GGUFFile(path: tmp.file("q8.gguf"))
        #expect(q8.tensors.filter { $0.shape.count >= 2 }.allSatisfy { $0.encoding.description == "Q8_0" })
        #expect(q8.tensors.filter { $0.shape.count < 2 }.allSatisfy { $0.encoding.description == "F32" })
        #expect(q8.metadata["general.file_type"]?.intValue == 7)
        #expect(q8.metadata["tokenizer.ggml.model"]?.stringValue == "gpt2")
        // Quantized source, no --dtype: F16 (the source's float type for quantized input).
        r = try TestModels.run(moekit, ["convert", tmp.file("q8.gguf"), tmp.file("back.gguf")] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        #expect(try Self.matrixTypes(tmp.file("back.gguf")) == ["F16"])
        r = try TestModels.run(moekit, ["compare", tmp.file("q8.gguf"), tmp.file("back.gguf"), "--tolerance", "1e-3"])
        #expect(r.status == 0, "\(r.output)")

        r = try TestModels.run(moekit, ["convert", hf, tmp.file("hf-bf16"), "--dtype", "bfloat16", "--max-shard-size", "20KB"] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        let files = try FileManager.default.contentsOfDirectory(atPath: tmp.file("hf-bf16"))
        #expect(files.contains("model.safetensors.index.json"), "\(files)")
        #expect(files.filter { $0.hasSuffix(".safetensors") }.count > 1, "\(files)")
        #expect(files.contains("tokenizer.json") && files.contains("tokenizer_config.json"), "\(files)")
        #expect(try Self.matrixTypes(tmp.file("hf-bf16")) == ["BF16"])
        let config = try JSONParser.parse(try PathUtilities.readBytes(tmp.file("hf-bf16/config.json")))
        #expect(config["torch_dtype"]?.stringValue == "bfloat16")
        r = try TestModels.run(moekit, ["compare", hf, tmp.file("hf-bf16"), "--tolerance", "0.01"])
        #expect(r.status == 0, "\(r.output)")

        for (input, output) in [(hf, hf), (tmp.file("q8.gguf"), tmp.file("q8.gguf"))] {
            r = try TestModels.run(moekit, ["convert", input, output, "--force"] + Self.recipes)
            #expect(r.status == 1 && r.output.contains("the output is the input"), "\(r.output)")
        }
    }

    @Test("dtype default is the source's float type (F16/BF16 kept, quantized → F16); float16/bfloat16 spellings accepted")
    func dtypeDefaults() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let hf16 = try Self.tinyHF(tmp, "hf16", dtype: .f16)
        var r = try TestModels.run(moekit, ["upcycle", hf16, tmp.file("up"), "--experts", "2", "--top-k", "1"] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        #expect(try Self.matrixTypes(tmp.file("up")) == ["F16"])
        r = try TestModels.run(moekit, ["split", hf16, tmp.file("sp"), "--experts", "4", "--top-k", "2", "--dtype", "bfloat16"] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        #expect(try Self.matrixTypes(tmp.file("sp")) == ["BF16"])
        r = try TestModels.run(moekit, ["convert", hf16, tmp.file("q4.gguf"), "--dtype", "q4_0"] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        r = try TestModels.run(moekit, ["split", tmp.file("q4.gguf"), tmp.file("sp-q4"), "--experts", "4", "--top-k", "2"] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        #expect(try Self.matrixTypes(tmp.file("sp-q4")) == ["F16"])
        r = try TestModels.run(moekit, ["convert", tmp.file("q4.gguf"), tmp.file("q4-hf")] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        #expect(try Self.matrixTypes(tmp.file("q4-hf")) == ["F16"])
        r = try TestModels.run(moekit, ["upcycle", hf16, tmp.file("bad"), "--experts", "2", "--top-k", "1", "--dtype", "float8"] + Self.recipes)
        #expect(r.status == 1 && r.output.contains("f16|float16"), "\(r.output)")
    }

    @Test("--max-shard-size on upcycle, split and merge-dense")
    func shardSizeEverywhere() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let hf = try Self.tinyHF(tmp)
        func shards(_ path: String) throws -> Int {
            try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".safetensors") }.count
        }
        var r = try TestModels.run(moekit, ["upcycle", hf, tmp.file("up"), "--experts", "2", "--top-k", "1", "--max-shard-size", "50KB"] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        #expect(try shards(tmp.file("up")) > 1)
        r = try TestModels.run(moekit, ["split", hf, tmp.file("sp"), "--experts", "4", "--top-k", "2", "--max-shard-size", "50KB"] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        #expect(try shards(tmp.file("sp")) > 1)
        r = try TestModels.run(moekit, ["merge-dense", tmp.file("sp"), tmp.file("merged"), "--max-shard-size", "50KB"] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        #expect(try shards(tmp.file("merged")) > 1)
        r = try TestModels.run(moekit, ["compare", hf, tmp.file("merged")])
        #expect(r.status == 0, "\(r.output)")
    }

    @Test("merge-dense of a llama-moe split keeps no router tensors and carries the tokenizer and generation config")
    func mergeDenseLlamaMoE() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let hf = try Self.tinyHF(tmp)
        try JSONWriter.bytes(.object(JSONObject([("bos_token_id", .integer(258))]))).write(to: hf + "/generation_config.json")
        var r = try TestModels.run(moekit, ["split", hf, tmp.file("lmoe"), "--experts", "4", "--top-k", "2", "--target", "llama-moe"] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        r = try TestModels.run(moekit, ["merge-dense", tmp.file("lmoe"), tmp.file("merged")] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        let names = try SafetensorsCheckpoint(path: tmp.file("merged")).tensors.map(\.name)
        #expect(!names.contains { $0.contains("gate_network") || $0.contains("weight_noise") }, "\(names.filter { $0.contains(".gate.") })")
        let files = try FileManager.default.contentsOfDirectory(atPath: tmp.file("merged"))
        for name in ["tokenizer.json", "tokenizer_config.json", "generation_config.json"] { #expect(files.contains(name), "\(files)") }
        r = try TestModels.run(moekit, ["compare", hf, tmp.file("merged")])
        #expect(r.status == 0, "\(r.output)")
    }

    @Test("a GGUF without a vocabulary needs --allow-no-vocab (convert and upcycle), with an error naming the input")
    func noVocabulary() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let hf = try Self.tinyHF(tmp, tokenizer: false)
        var r = try TestModels.run(moekit, ["convert", hf, tmp.file("m.gguf")] + Self.recipes)
        #expect(r.status == 1 && r.output.contains(hf) && r.output.contains("--allow-no-vocab"), "\(r.output)")
        #expect(!PathUtilities.exists(tmp.file("m.gguf")))
        r = try TestModels.run(moekit, ["upcycle", hf, tmp.file("u.gguf"), "--experts", "2", "--top-k", "1"] + Self.recipes)
        #expect(r.status == 1 && r.output.contains("--allow-no-vocab"), "\(r.output)")
        r = try TestModels.run(moekit, ["convert", hf, tmp.file("m.gguf"), "--allow-no-vocab"] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        r = try TestModels.run(moekit, ["convert", tmp.file("m.gguf"), tmp.file("m16.gguf"), "--dtype", "f16"] + Self.recipes)
        #expect(r.status == 1 && r.output.contains(tmp.file("m.gguf")) && r.output.contains("--allow-no-vocab"), "\(r.output)")
    }

    @Test("compare maps GGUF names to HF names through the recipe: a GGUF and its own conversion compare every tensor")
    func compareAcrossFormats() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let hf = try Self.tinyHF(tmp)
        var r = try TestModels.run(moekit, ["convert", hf, tmp.file("m.gguf")] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        r = try TestModels.run(moekit, ["compare", tmp.file("m.gguf"), hf, "--json"] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        let json = try JSONParser.parse(String(r.output[r.output.firstIndex(of: "{")!...]))
        let hfCount = try SafetensorsCheckpoint(path: hf).tensors.count
        #expect(json["tensors_compared"]?.intValue == Int64(hfCount), "\(r.output)")
        #expect(json["max_abs_difference"]?.doubleValue == 0)
    }

    @Test("numeric options: negative values reach the check and are refused with the option's constraint",
        arguments: [
            (["upcycle", "IN", "OUT", "--experts", "2", "--top-k", "1", "--noise", "-1"], "--noise: expected a standard deviation σ ≥ 0"),
            (["upcycle", "IN", "OUT", "--experts", "2", "--top-k", "1", "--seed", "-1"], "--seed: expected an integer in 0…"),
            (["upcycle", "IN", "OUT", "--experts", "-4", "--top-k", "1"], "--experts: expected an integer ≥ 1"),
            (["upcycle", "IN", "OUT", "--experts", "2", "--top-k", "1", "--granularity", "0"], "--granularity: expected an integer ≥ 1"),
            (["split", "IN", "OUT", "--experts", "4", "--top-k", "-2"], "--top-k: expected an integer ≥ 1"),
            (["compare", "IN", "IN", "--tolerance", "-1"], "--tolerance: expected an absolute difference ≥ 0"),
        ])
    func numericOptions(arguments: [String], expected: String) throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let hf = try Self.tinyHF(tmp)
        let r = try TestModels.run(moekit, arguments.map { $0 == "IN" ? hf : $0 == "OUT" ? tmp.file("out") : $0 })
        #expect(r.status != 0)
        #expect(r.output.contains(expected), "\(r.output)")
        #expect(!r.output.contains("Missing value"), "\(r.output)")
    }

    @Test("a plan with experts: 1e400 names the field and the constraint instead of saying --experts is required")
    func planHugeNumber() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let hf = try Self.tinyHF(tmp)
        try Array(#"{"operation": "upcycle", "experts": 1e400, "top_k": 1}"#.utf8).write(to: tmp.file("plan.json"))
        let r = try TestModels.run(moekit, ["upcycle", "--plan", tmp.file("plan.json"), hf, tmp.file("out")] + Self.recipes)
        #expect(r.status == 1, "\(r.output)")
        #expect(r.output.contains("/experts") && r.output.contains("an integer"), "\(r.output)")
        #expect(!r.output.contains("is required"), "\(r.output)")
    }

    @Test("verify --tolerance exits 1 above it and explains the storage types' rounding")
    func verifyTolerance() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let hf = try Self.tinyHF(tmp)
        var r = try TestModels.run(moekit, ["upcycle", hf, tmp.file("up"), "--experts", "2", "--top-k", "1", "--dtype", "bf16", "--noise", "0.05"] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
        r = try TestModels.run(moekit, ["verify", hf, tmp.file("up"), "--text", "hello there", "--tolerance", "1e-9"] + Self.recipes)
        #expect(r.status == 1, "\(r.output)")
        #expect(r.output.contains("exceeds --tolerance") && r.output.contains("BF16"), "\(r.output)")
        r = try TestModels.run(moekit, ["verify", hf, tmp.file("up"), "--text", "hello there", "--tolerance", "1000"] + Self.recipes)
        #expect(r.status == 0, "\(r.output)")
    }

    @Test("messages: a .gguf with a bad magic is reported as GGUF, no Foundation error dumps, control bytes escaped")
    func messages() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        try Array("garbage!".utf8).write(to: tmp.file("bad.gguf"))
        var r = try TestModels.run(moekit, ["inspect", tmp.file("bad.gguf")])
        #expect(r.status == 1 && r.output.contains("not a GGUF file") && !r.output.lowercased().contains("safetensors"), "\(r.output)")
        let hf = try Self.tinyHF(tmp)
        try Array("x".utf8).write(to: tmp.file("afile"))
        r = try TestModels.run(moekit, ["convert", hf, tmp.file("afile/sub/out")] + Self.recipes)
        #expect(r.status == 1 && r.output.contains("not a directory") && !r.output.contains("NSCocoaErrorDomain"), "\(r.output)")
        r = try TestModels.run(moekit, ["inspect", tmp.file("a\u{1B}[2Jb.gguf")])
        #expect(r.status == 1, "\(r.output)")
        #expect(!r.output.contains("\u{1B}") && r.output.contains("\\u{1B}[2Jb.gguf"), "\(r.output)")
    }
}

extension Array where Element == UInt8 {
    /// Writes the bytes to `path`.
    func write(to path: String) throws { try Data(self).write(to: URL(fileURLWithPath: path)) }
}
