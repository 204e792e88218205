import Foundation
import TestSupport
import Testing

@testable import IOCore

/// `--plan` on `split` / `upcycle` and `moekit plan`, on a tiny two-layer HF model (I = 128, H = 64).
@Suite("moekit plans", .serialized)
struct PlanCommandTests {
    let tmp = TemporaryDirectory()
    let recipes = ["--recipes", TestModels.repositoryRoot + "/Converters"]

    init() throws { try TinyLlama().writeHFDirectory(tmp.file("hf")) }

    func write(_ name: String, _ text: String) -> String {
        let path = tmp.file(name)
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    /// The safetensors file without its `__metadata__` (which holds the manifest and so the command line): the
    /// header's tensor entries and every data byte.
    static func tensorsAndData(_ directory: String) throws -> (header: JSONValue, data: ArraySlice<UInt8>) {
        let bytes = try PathUtilities.readBytes(directory + "/model.safetensors")
        let length = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
        var header = try JSONParser.parse(Array(bytes[8..<(8 + length)])).objectValue!
        header["__metadata__"] = nil
        return (.object(header), bytes[(8 + length)...])
    }

    /// The manifest without what records how the run was invoked (the command line and the plan file).
    static func manifestWithoutCommand(_ directory: String) throws -> JSONValue {
        var manifest = try JSONParser.parse(try PathUtilities.readBytes(directory + "/moekit-manifest.json")).objectValue!
        #expect(manifest["command"] != nil)
        manifest["command"] = nil
        manifest["plan"] = nil
        return .object(manifest)
    }

    func expectSameOutput(_ a: String, _ b: String) throws {
        let (headerA, dataA) = try Self.tensorsAndData(a)
        let (headerB, dataB) = try Self.tensorsAndData(b)
        #expect(headerA == headerB)
        #expect(dataA.count > 100_000 && dataA == dataB)
        #expect(try Self.manifestWithoutCommand(a) == Self.manifestWithoutCommand(b))
        #expect(try PathUtilities.readBytes(a + "/config.json") == PathUtilities.readBytes(b + "/config.json"))
    }

    @Test("a YAML plan and the equivalent flags write the same tensors, manifest and config")
    func planEqualsFlags() throws {
        let moekit = try CLITests.binary()
        let plan = write("split.yaml", """
            operation: split
            experts: 4
            top_k: 2
            method: clustering
            rescale: n-over-k
            router: centroids
            seed: 11
            dtype: f16
            """)
        var result = try TestModels.run(moekit, ["split", "--plan", plan, tmp.file("hf"), tmp.file("a")] + recipes)
        #expect(result.status == 0, "\(result.output)")
        result = try TestModels.run(moekit, [
            "split", tmp.file("hf"), tmp.file("b"), "--experts", "4", "--top-k", "2", "--method", "clustering",
            "--rescale", "n-over-k", "--router", "centroids", "--seed", "11", "--dtype", "f16",
        ] + recipes)
        #expect(result.status == 0, "\(result.output)")
        try expectSameOutput(tmp.file("a"), tmp.file("b"))
        let manifest = try Self.manifestWithoutCommand(tmp.file("a"))
        #expect(manifest["method"]?.stringValue == "clustering" && manifest["router_init"]?.stringValue == "centroids")
        #expect(manifest["seed"]?.stringValue == "11" && manifest["dtype"]?.stringValue == "F16")

        // Input and output from a JSON plan; identical per-layer entries resolve to the same single construction.
        let upcyclePlan = write("up.json", """
            {"operation": "upcycle", "input": "\(tmp.file("hf"))", "output": "\(tmp.file("c"))", "experts": 4, "top_k": 2,
             "drop_ratio": 0.25, "noise": 0.01, "seed": "18446744073709551615",
             "layers": [{"layers": "0-1", "router": "zero"}]}
            """)
        result = try TestModels.run(moekit, ["upcycle", "--plan", upcyclePlan] + recipes)
        #expect(result.status == 0, "\(result.output)")
        result = try TestModels.run(moekit, [
            "upcycle", tmp.file("hf"), tmp.file("d"), "--experts", "4", "--top-k", "2", "--drop-ratio", "0.25",
            "--noise", "0.01", "--seed", "18446744073709551615", "--router", "zero",
        ] + recipes)
        #expect(result.status == 0, "\(result.output)")
        try expectSameOutput(tmp.file("c"), tmp.file("d"))
    }

    @Test("flags typed on the command line override the plan")
    func flagsOverridePlan() throws {
        let moekit = try CLITests.binary()
        let plan = write("p.yaml", "operation: upcycle\nexperts: 2\ntop_k: 1\nseed: 1\nnoise: 0.5\nlayers:\n  - layers: [1]\n    noise: 0.1\n")
        var result = try TestModels.run(moekit, ["upcycle", "--plan", plan, tmp.file("hf"), tmp.file("a"), "--seed", "7", "--experts", "4", "--noise", "0.02"] + recipes)
        #expect(result.status == 0, "\(result.output)")
        result = try TestModels.run(moekit, ["upcycle", tmp.file("hf"), tmp.file("b"), "--experts", "4", "--top-k", "1", "--seed", "7", "--noise", "0.02"] + recipes)
        #expect(result.status == 0, "\(result.output)")
        try expectSameOutput(tmp.file("a"), tmp.file("b"))
        let manifest = try Self.manifestWithoutCommand(tmp.file("a"))
        #expect(manifest["seed"]?.stringValue == "7" && manifest["experts"]?.intValue == 4 && manifest["top_k"]?.intValue == 1)
    }

    @Test("moekit plan and --dry-run write nothing and report per-layer settings, problems, shards and RAM")
    func dryRun() throws {
        let moekit = try CLITests.binary()
        let plan = write("p.yaml", """
            operation: split
            input: \(tmp.file("hf"))
            output: \(tmp.file("out"))
            experts: 4
            top_k: 2
            layers:
              - layers: [1]
                router: zero
            """)
        var result = try TestModels.run(moekit, ["plan", "--plan", plan, "--json"] + recipes)
        #expect(result.status == 0, "\(result.output)")  // layers may differ: the writer takes one plan per layer
        let report = try JSONParser.parse(String(result.output.split(separator: "\n").first { $0.hasPrefix("{") } ?? "{}"))
        #expect(report["layers"]?.arrayValue?.map { $0["router"]?.stringValue } == ["random", "zero"])
        #expect(report["layers"]?.arrayValue?.first?["expert_width"]?.intValue == 32)
        #expect(report["shard_plan"] == .object(JSONObject([("count", .integer(1)), ("files", .array([.string("model.safetensors")]))])))
        #expect((report["ram_needed_bytes"]?.intValue ?? 0) >= (report["working_memory_bytes"]?.intValue ?? 1))
        #expect(report["problems"]?.arrayValue?.count == 0)
        #expect(!FileManager.default.fileExists(atPath: tmp.file("out")))

        // Divisibility problems are listed instead of thrown; dense layers count their dense FFN.
        result = try TestModels.run(moekit, ["split", "--plan", plan, "--experts", "3", "--top-k", "1", "--dry-run", "--json"] + recipes)
        #expect(result.status == 1)
        let problems = try JSONParser.parse(String(result.output.split(separator: "\n").first { $0.hasPrefix("{") } ?? "{}"))["problems"]?.arrayValue ?? []
        #expect(!problems.isEmpty, "\(result.output)")
        #expect(problems.allSatisfy { $0["problem"]?.stringValue?.contains("3 experts do not divide the intermediate size 128") == true })

        let dense = write("d.yaml", "operation: upcycle\nexperts: 4\ntop_k: 2\ndense_layers: [1]\ntarget: qwen2-moe\n")
        result = try TestModels.run(moekit, ["plan", "--plan", dense, tmp.file("hf"), "--json"] + recipes)
        let denseReport = try JSONParser.parse(String(result.output.split(separator: "\n").first { $0.hasPrefix("{") } ?? "{}"))
        let layers = denseReport["layers"]?.arrayValue ?? []
        #expect(layers.count == 2 && layers[1]["dense"]?.boolValue == true && layers[1]["experts"] == nil, "\(result.output)")
        let ffn = 3 * 64 * 128
        #expect(layers[1]["total_parameters"]?.intValue == Int64(ffn))
        // qwen2-moe adds zero q/k/v biases (2 layers × (64 + 32 + 32)); layer 0 holds 4 experts, a router and the
        // shared expert the layout requires.
        let shared = layers[0]["shared_expert_parameters"]?.intValue ?? -1
        #expect(denseReport["total_parameters"]?.intValue == (denseReport["dense_parameters"]?.intValue ?? 0) + Int64(4 * ffn + 4 * 64 - ffn + 2 * 128) + shared, "\(result.output)")

        let exact = write("e.yaml", "operation: split\nexperts: 4\ntop_k: 4\nrescale: exact\nrouter: zero\n")
        result = try TestModels.run(moekit, ["plan", "--plan", exact, tmp.file("hf")] + recipes)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("layer 1: 4 experts × 32 neurons") && result.output.contains("shards: 1 (model.safetensors)"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).sorted() == ["d.yaml", "e.yaml", "hf", "p.yaml"])
    }

    @Test("a plan whose layers differ is written layer by layer and recorded per layer in the manifest")
    func perLayerWrite() throws {
        let moekit = try CLITests.binary()
        let plan = write("per-layer.yaml", """
            operation: split
            experts: 4
            top_k: 2
            target: qwen2-moe
            layers:
              - layers: [0]
                method: clustering
                router: centroids
                rescale: n-over-k
              - layers: [1]
                dense: true
            """)
        let (status, output) = try TestModels.run(moekit, ["split", "--plan", plan, tmp.file("hf"), tmp.file("out")] + recipes)
        #expect(status == 0, "\(output)")
        let manifest = try JSONParser.parse(try PathUtilities.readBytes(tmp.file("out/moekit-manifest.json")))
        #expect(manifest["plan"]?["path"]?.stringValue == plan)
        #expect(manifest["plan"]?["text"]?.stringValue?.contains("method: clustering") == true)
        let layers = manifest["layers"]?.arrayValue ?? []
        #expect(layers.count == 2)
        #expect(layers.first?["method"]?.stringValue == "clustering" && layers.first?["router_init"]?.stringValue == "centroids")
        #expect(layers.first?["rescale"]?.stringValue == "n-over-k" && layers.first?["score_scale"]?.doubleValue == 2)
        #expect(layers.last?["dense"]?.boolValue == true)
        let config = try JSONParser.parse(try PathUtilities.readBytes(tmp.file("out/config.json")))
        #expect(config["mlp_only_layers"] == .array([.integer(1)]))
        #expect(config["model_type"]?.stringValue == "qwen2_moe")
        let (header, _) = try Self.tensorsAndData(tmp.file("out"))
        #expect(header["model.layers.1.mlp.down_proj.weight"] != nil && header["model.layers.0.mlp.experts.3.down_proj.weight"] != nil)
        #expect(header["model.layers.0.mlp.down_proj.weight"] == nil)
    }

    @Test("a bad plan fails with file, field and expectation before any output exists")
    func badPlans() throws {
        let moekit = try CLITests.binary()
        let cases: [(String, String, [String])] = [
            ("typo.yaml", "operation: split\nexperts: 4\ntop_kk: 2\n", ["typo.yaml", "line 3, /top_kk: unknown field 'top_kk'"]),
            ("type.json", "{\"operation\": \"split\", \"experts\": \"4\", \"top_k\": 2}", ["type.json", "/experts: expected integer, found string \"4\""]),
            ("enum.yaml", "operation: split\nexperts: 4\ntop_k: 2\nmethod: kmeans\n", ["enum.yaml", "/method: expected one of"]),
            ("range.yaml", "operation: split\nexperts: 4\ntop_k: 2\nlayers:\n  - layers: 0-2\n    router: zero\n", ["range.yaml", "/layers/0/layers: layer 2 does not exist; the model has 2 layers"]),
            ("op.yaml", "operation: upcycle\nexperts: 4\ntop_k: 2\n", ["op.yaml", "/operation: expected \"split\""]),
            ("yaml.yaml", "operation: split\nexperts: 4\ntop_k: 2\nrouter: &r zero\n", ["yaml.yaml:4:9: anchors"]),
            ("dup.yaml", "operation: split\nexperts: 4\ntop_k: 2\nexperts: 8\n", ["dup.yaml:2:1: duplicate key 'experts'"]),
            ("dense.yaml", "operation: split\nexperts: 4\ntop_k: 2\nlayers:\n  - layers: [0]\n    dense: true\n", ["--dense-layers", "mixtral"]),
            ("cal.yaml", "operation: split\nexperts: 4\ntop_k: 2\nmethod: gradient\n", ["--method gradient needs --calibration FILE"]),
            ("missing.yaml", "operation: split\nexperts: 4\n", ["--top-k is required"]),
        ]
        for (name, text, fragments) in cases {
            let plan = write(name, text)
            let (status, output) = try TestModels.run(moekit, ["split", "--plan", plan, tmp.file("hf"), tmp.file("o")] + recipes)
            #expect(status == 1, "\(name): \(output)")
            for fragment in fragments { #expect(output.contains(fragment), "\(name): \(output)") }
            #expect(!output.contains("Fatal error"))
            #expect(!FileManager.default.fileExists(atPath: tmp.file("o")), "\(name)")
        }
        let (status, output) = try TestModels.run(moekit, ["plan", "--plan", tmp.file("absent.yaml"), tmp.file("hf")] + recipes)
        #expect(status == 1 && output.contains("absent.yaml: cannot read the plan"), "\(output)")
    }
}
