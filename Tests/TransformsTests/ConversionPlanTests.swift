import Conversion
import Foundation
import IOCore
import TensorCore
import TestSupport
import Testing
import Transforms

/// Plan files: schema errors with pointers and YAML lines, typed decoding, per-layer resolution, flag overrides,
/// and the one construction function with its calibration needs.
@Suite("Conversion plans")
struct ConversionPlanTests {
    static let schema: JSONValue = try! JSONParser.parse(try! PathUtilities.readBytes(TestModels.repositoryRoot + "/Schemas/plan.schema.json"))

    func yaml(_ text: String) throws -> ConversionPlan {
        try PlanReader.parse(Array(text.utf8), isYAML: true, path: "p.yaml", schema: Self.schema)
    }

    func json(_ text: String) throws -> ConversionPlan {
        try PlanReader.parse(Array(text.utf8), isYAML: false, path: "p.json", schema: Self.schema)
    }

    func planError(_ body: () throws -> Any) -> PlanError? {
        do {
            _ = try body()
            Issue.record("expected a PlanError")
            return nil
        } catch let error as PlanError {
            return error
        } catch {
            Issue.record("expected a PlanError, got \(error)")
            return nil
        }
    }

    @Test("schema errors name the file, the JSON pointer (and YAML line) and what was expected")
    func schemaErrors() throws {
        let cases: [(String, String)] = [
            ("operation: split\nexperts: 8\ntop_kk: 2\n", "line 3, /top_kk: unknown field 'top_kk'"),
            ("operation: split\nexperts: eight\n", "line 2, /experts: expected integer, found string \"eight\""),
            ("operation: split\nmethod: kmeans\n", "line 2, /method: expected one of \"random\""),
            ("operation: merge\n", "line 1, /operation: expected one of \"split\", \"upcycle\""),
            ("operation: split\nlayers:\n  - layers: [1]\n    methd: random\n", "line 4, /layers/0/methd: unknown field 'methd'"),
            ("operation: split\nlayers:\n  - layers: 1-x\n    method: random\n", "line 3, /layers/0/layers: \"1-x\" does not match the pattern"),
            ("experts: 8\n", "line 1, /: missing required field 'operation'"),
            ("operation: split\nseed: -3\n", "line 2, /seed: expected a value ≥ 0, found -3"),
            ("operation: split\ncalibration: {tokens: 5}\n", "line 2, /calibration: missing required field 'file'"),
        ]
        for (text, expected) in cases {
            let error = planError { try yaml(text) }
            guard case let .schema(path, violations)? = error else {
                Issue.record("\(text.debugDescription): \(String(describing: error))")
                continue
            }
            #expect(path == "p.yaml")
            #expect(violations.contains { $0.hasPrefix(expected) }, "\(expected) not in \(violations)")
            #expect(error!.description.hasPrefix("p.yaml: plan does not match Schemas/plan.schema.json"))
        }
        let jsonError = planError { try json("{\"operation\": \"split\", \"noise\": -1}") }
        #expect(jsonError?.description.contains("/noise: expected a value ≥ 0") == true, "\(String(describing: jsonError))")
        let syntax = planError { try json("{\"operation\": \"split\",\n \"experts\": }") }
        #expect(syntax == .syntax(path: "p.json", line: 2, column: 13, message: "unexpected '}' at byte 35, expected a JSON value"))
        let yamlSyntax = planError { try yaml("operation: split\nrouter: &r zero\n") }
        #expect(yamlSyntax?.description.hasPrefix("p.yaml:2:9: anchors") == true, "\(String(describing: yamlSyntax))")
    }

    @Test("fields the operation does not use, and seeds, are checked with their pointer")
    func decodingChecks() throws {
        #expect(planError { try yaml("operation: upcycle\nmethod: random\n") }
            == .invalidField(path: "p.yaml", field: "/method", expected: "no \"method\" in a plan whose operation is upcycle (it applies to split only)", found: "\"random\""))
        #expect(planError { try yaml("operation: split\nlayers:\n  - layers: [0]\n    drop_ratio: 0.5\n") }?.description
            .contains("/layers/0/drop_ratio") == true)
        #expect(try yaml("operation: split\nseed: \"18446744073709551615\"\n").seed == UInt64.max)
        #expect(try yaml("operation: split\nseed: 12\n").seed == 12)
        #expect(planError { try yaml("operation: split\nseed: 18446744073709551615\n") }?.description
            .contains("/seed: expected an integer below 2^63, or a decimal string") == true)
        #expect(planError { try yaml("operation: split\nseed: \"99999999999999999999\"\n") }?.description.contains("/seed") == true)
        #expect(planError { try yaml("operation: split\ndense_layers: \"5-2\"\n") }?.description.contains("/dense_layers") == true)
    }

    @Test("every example plan in Plans/ reads")
    func examples() throws {
        let directory = TestModels.repositoryRoot + "/Plans"
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(names.count >= 3)
        for name in names {
            let plan = try PlanReader.read(path: directory + "/" + name, schema: Self.schema)
            #expect(plan.origin.hasSuffix(name))
        }
        let perLayer = try PlanReader.read(path: directory + "/split-per-layer.yaml", schema: Self.schema)
        #expect(perLayer.seed == UInt64.max)
        #expect(perLayer.calibration == ConversionPlan.Calibration(file: "calibration.jsonl.gz", tokens: 4096, field: "text"))
        #expect(perLayer.overrides.map(\.selection.indices) == [Array(8...21), [0]])
    }

    @Test("per-layer resolution: top level, dense_layers, then entries in order (later wins), then defaults")
    func perLayer() throws {
        let plan = try yaml("""
            operation: split
            experts: 4
            top_k: 2
            method: clustering
            dense_layers: [5]
            layers:
              - layers: "0-3,7"
                method: random
                router: zero
              - layers: [2, 3]
                method: gradient
              - layers: "3"
                rescale: n-over-k
                dense: false
              - layers: [7]
                dense: true
            """)
        let layers = try plan.resolvedLayers(count: 8)
        #expect(layers.map(\.method) == ["random", "random", "gradient", "gradient", "clustering", "clustering", "clustering", "random"])
        #expect(layers.map(\.router) == ["zero", "zero", "zero", "zero", "random", "random", "random", "zero"])
        #expect(layers.map(\.rescale) == ["none", "none", "none", "n-over-k", "none", "none", "none", "none"])
        #expect(layers.map(\.dense) == [false, false, false, false, false, true, false, true])
        #expect(plan.settings(forLayer: 3) == layers[3])
        #expect(planError { try plan.resolvedLayers(count: 7) }
            == .layerOutOfRange(path: "p.yaml", field: "/layers/0/layers", layer: 7, layerCount: 7))
        #expect(planError { try plan.resolvedLayers(count: 5) }
            == .layerOutOfRange(path: "p.yaml", field: "/dense_layers", layer: 5, layerCount: 5))
        #expect(planError { try plan.resolvedLayers(count: 5) }?.description == "p.yaml: /dense_layers: layer 5 does not exist; the model has 5 layers (0-4)")
    }

    @Test("command-line flags override the plan, for every layer; unset flags keep the plan's values")
    func flagOverrides() throws {
        let plan = try yaml("""
            operation: split
            experts: 4
            top_k: 2
            seed: 9
            method: clustering
            router: centroids
            layers:
              - layers: [1]
                method: random
                router: zero
            """)
        var flags = ConversionPlan(operation: .split)
        flags.topK = 1
        flags.settings.router = "random"
        let merged = plan.overriding(with: flags)
        #expect(merged.experts == 4 && merged.topK == 1 && merged.seed == 9)
        let layers = try merged.resolvedLayers(count: 2)
        #expect(layers.map(\.router) == ["random", "random"])
        #expect(layers.map(\.method) == ["clustering", "random"])
        #expect(try plan.overriding(with: ConversionPlan(operation: .split)) == plan)
        var dense = ConversionPlan(operation: .upcycle)
        dense.denseLayers = LayerSelection(parsing: "1")
        var upcycle = try yaml("operation: upcycle\ndense_layers: [0]\nlayers:\n  - layers: [2]\n    dense: true\n")
        upcycle = upcycle.overriding(with: dense)
        #expect(try upcycle.resolvedLayers(count: 3).map(\.dense) == [false, true, false])
    }

    @Test("missing experts / top-k name the flag and the plan field")
    func missing() throws {
        let plan = try yaml("operation: upcycle\n")
        #expect(planError { try plan.requiredExperts() }?.description == "--experts is required (on the command line or as \"experts\" in the plan)")
        #expect(planError { try plan.requiredTopK() }?.description == "--top-k is required (on the command line or as \"top_k\" in the plan)")
    }

    static func calibration(clusters: Int = 4, tokens: Int = 6, hidden: Int = 3, neurons: Int = 8) -> LayerCalibration {
        LayerCalibration(
            mlpInputs: FloatTensor(shape: [tokens, hidden], values: (0..<(tokens * hidden)).map { Float($0) / 10 }),
            activations: FloatTensor(shape: [tokens, neurons], values: (0..<(tokens * neurons)).map { Float($0 % 7) }),
            importance: (0..<clusters).map { c in (0..<neurons).map { Float(($0 + c) % neurons) } },
            tokenLabels: (0..<tokens).map { $0 % clusters })
    }

    @Test("one construction per layer: data-driven settings read the layer's calibration record")
    func constructions() throws {
        let plan = try yaml("""
            operation: split
            experts: 4
            top_k: 2
            seed: 5
            expert_size: 3
            shared_experts: 1
            layers:
              - {layers: [1], method: gradient}
              - {layers: [2], method: coactivation, rescale: calibrated}
              - {layers: [3], method: sharing-inner, router: hidden}
              - {layers: [4], method: sharing-inter, align: true}
              - {layers: [5], method: clustering, router: centroids, rescale: n-over-k}
            """)
        let cal = Self.calibration()
        #expect(plan.calibrationNeeds(of: plan.settings(forLayer: 0)) == nil)
        #expect(plan.calibrationNeeds(of: plan.settings(forLayer: 1))?.needs == .importance)
        #expect(plan.calibrationNeeds(of: plan.settings(forLayer: 2))?.option == "--method coactivation")
        #expect(try plan.calibrationNeeds(layerCount: 6) == [.importance, .activations])
        var asked: [Int] = []
        let layers = try plan.plannedLayers(count: 6) { layer in
            asked.append(layer)
            return cal
        }
        #expect(asked == [1, 2, 3, 4])
        func split(_ l: Int) -> SplitOptions? {
            if case .sparse(.split(let options)) = layers[l] { return options }
            return nil
        }
        #expect(split(0) == SplitOptions(experts: 4, topK: 2, method: .random(seed: 5), router: .random(seed: 5), foldScaleIntoDown: true))
        #expect(split(1)?.method == .gradient(importance: cal.importance!))
        #expect(split(2)?.method == .coactivation(activations: cal.activations!, kernel: .plain))
        #expect(split(2)?.rescale == .calibrated(inputs: cal.mlpInputs))
        #expect(split(3)?.method == .sharingInner(importance: cal.importance!, expertSize: 3))
        #expect(split(3)?.router == .hidden(inputs: cal.mlpInputs, labels: cal.tokenLabels))
        #expect(split(4)?.method == .sharingInter(importance: cal.importance!, sharedExperts: 1, expertSize: 3, shareRouted: false))
        #expect(split(4)?.alignment == cal.mlpInputs)
        #expect(split(5)?.method == .clustering(source: .up, seed: 5, maxIterations: 30))
        #expect(split(5)?.router == .centroids(source: .up) && split(5)?.rescale == .nOverK)
        #expect(throws: PlanError.needsCalibration(option: "--method gradient")) {
            try plan.plannedLayers(count: 6) { _ in nil }
        }
        var incomplete = cal
        incomplete.importance = nil
        #expect(throws: PlanError.calibrationIncomplete(layer: 1, missing: "importance (CalibrationNeeds.importance)", option: "--method gradient")) {
            try plan.plannedLayers(count: 6) { _ in incomplete }
        }
    }

    @Test("upcycle constructions, dense layers, exact-rescale checks")
    func upcycleAndUniform() throws {
        let plan = try yaml("operation: upcycle\nexperts: 4\ntop_k: 2\nseed: 3\ngranularity: 2\ndrop_ratio: 0.25\nnoise: 0.5\nrouter: zero\n")
        let layers = try plan.plannedLayers(count: 3) { _ in nil }
        let expected = UpcycleOptions(experts: 4, topK: 2, router: .zero, dropRatio: 0.25, noise: 0.5, granularity: 2, seed: 3)
        #expect(layers.count == 3)
        for layer in layers {
            guard case .sparse(.upcycle(let options)) = layer else {
                Issue.record("expected an upcycle construction")
                return
            }
            #expect(options == expected)
        }
        var withDense = plan
        withDense.denseLayers = LayerSelection(indices: [0, 2])
        let planned = try withDense.plannedLayers(count: 3) { _ in nil }
        #expect(planned.map { $0.construction == nil } == [true, false, true])
        let exact = try yaml("operation: split\nexperts: 4\ntop_k: 2\nrescale: exact\nrouter: zero\n")
        #expect(throws: TransformError.self) { try exact.plannedLayers(count: 1) { _ in nil } }
    }
}

/// An unknown `target` in a plan file is refused naming the file (fuzzer case 899: "mixtral-1e400").
@Suite("Conversion plan targets")
struct ConversionPlanTargetTests {
    @Test("an unknown target in a plan file names the file, /target, the known targets and the value")
    func unknownTarget() throws {
        let library = try RecipeLibrary(directory: TestModels.repositoryRoot + "/Converters")
        let text = #"{"operation": "split", "experts": 4, "top_k": 2, "target": "mixtral-1e400"}"#
        let plan = try PlanReader.parse(Array(text.utf8), isYAML: false, path: "dir/plan.json", schema: ConversionPlanTests.schema)
        let known = MoETarget.known(in: library)
        #expect(known.contains("mixtral"))
        #expect(throws: PlanError.invalidField(
            path: "dir/plan.json", field: "/target",
            expected: "one of the MoE targets \(known.joined(separator: ", ")) (recipes in Converters/ with expert_count and a moe section)",
            found: "\"mixtral-1e400\"")) { try plan.checkTarget(in: library) }
        // A dense recipe is not a target either; a known target and no target pass.
        var dense = plan
        dense.target = "llama"
        #expect(throws: PlanError.self) { try dense.checkTarget(in: library) }
        var good = plan
        good.target = "mixtral"
        try good.checkTarget(in: library)
        good.target = nil
        try good.checkTarget(in: library)
    }
}
