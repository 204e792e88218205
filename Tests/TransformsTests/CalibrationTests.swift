import Conversion
import Foundation
import IOCore
import Runtime
import TensorCore
import TestSupport
import Testing
import Transforms

/// Calibration statistics (`LanguageModel.probe`, `CalibrationSamples`, `CalibrationCollector`) and the per-layer
/// FFN comparison used by `moekit verify`.
@Suite("Calibration and per-layer FFN comparison", .serialized)
struct CalibrationTests {
    static let converters = TestModels.repositoryRoot + "/Converters"

    /// A tiny dense model on disk and loaded.
    static func denseModel(_ tmp: TemporaryDirectory) throws -> (path: String, model: LanguageModel) {
        let path = tmp.file("dense")
        try TinyLlama().writeHFDirectory(path)
        return (path, try LanguageModel.load(path: path, recipesDirectory: converters).model)
    }

    static func tokens(_ count: Int, seed: UInt64) -> [Int32] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in Int32(rng.next() % UInt64(TinyLlama.vocabularySize)) }
    }

    static func maxAbs(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    @Test("probe: activations are silu(gate·x)⊙(up·x) of the recorded inputs, and ffnOutput is the dense FFN")
    func probeMatchesReferenceFFN() throws {
        Matmul.useSingleThreadedBLAS()
        let tmp = TemporaryDirectory()
        let (path, model) = try Self.denseModel(tmp)
        let source = try ModelSource.open(path, recipesDirectory: Self.converters)
        let ids = Self.tokens(13, seed: 5)
        let probes = try model.probe(ids, activations: true)
        #expect(probes.count == 2)
        for (l, probe) in probes.enumerated() {
            let gate = try source.floats("model.layers.\(l).mlp.gate_proj.weight")
            let up = try source.floats("model.layers.\(l).mlp.up_proj.weight")
            let down = try source.floats("model.layers.\(l).mlp.down_proj.weight")
            let (I, H) = (gate.shape[0], gate.shape[1])
            #expect(probe.mlpInputs.shape == [13, H])
            let act = try #require(probe.activations)
            #expect(act.shape == [13, I])
            // Hand-computed activations in Double.
            var worst = 0.0
            for t in 0..<13 {
                for i in 0..<I {
                    var g = 0.0, u = 0.0
                    for h in 0..<H {
                        let x = Double(probe.mlpInputs.values[t * H + h])
                        g += Double(gate.values[i * H + h]) * x
                        u += Double(up.values[i * H + h]) * x
                    }
                    worst = max(worst, abs(g / (1 + exp(-g)) * u - Double(act.values[t * I + i])))
                }
            }
            #expect(worst < 1e-5)
            let dense = try DenseFFN(gate: gate, up: up, down: down)
            let reference = dense.forward(probe.mlpInputs)
            #expect(Self.maxAbs(try model.ffnOutput(layer: l, inputs: probe.mlpInputs).values, reference.values) < 1e-5)
        }
        #expect(throws: RuntimeError.self) { try model.ffnOutput(layer: 0, inputs: FloatTensor(zeros: [2, 3])) }
    }

    @Test("FFN comparison: an upcycled model is exact per layer, a 4-way random top-1 split is not")
    func ffnComparison() throws {
        Matmul.useSingleThreadedBLAS()
        let tmp = TemporaryDirectory()
        let (path, dense) = try Self.denseModel(tmp)
        func convert(_ construction: MoEConstruction, _ name: String) throws -> LanguageModel {
            let library = try RecipeLibrary(directory: Self.converters)
            let table = try PreTokenizerTable(convertersDirectory: Self.converters)
            let source = try ModelSource(path: path, recipes: library, preTokenizers: table)
            try MoEModelWriter(
                source: source, library: library, preTokenizers: table, target: "mixtral", construction: construction,
                dtype: .f32, format: .safetensors, manifestFields: JSONObject()
            ).write(to: tmp.file(name))
            return try LanguageModel.load(path: tmp.file(name), recipesDirectory: Self.converters).model
        }
        let ids = Self.tokens(20, seed: 9)
        let upcycled = try convert(.upcycle(UpcycleOptions(experts: 4, topK: 2, seed: 1)), "up")
        let exact = try FFNComparison.relativeErrors(dense: dense, moe: upcycled, tokens: ids)
        #expect(exact.count == 2)
        #expect(exact.allSatisfy { $0 < 1e-5 })
        let split = try convert(.split(SplitOptions(experts: 4, topK: 1, method: .random(seed: 2))), "split")
        let errors = try FFNComparison.relativeErrors(dense: dense, moe: split, tokens: ids)
        #expect(errors.allSatisfy { $0 > 0.05 && $0.isFinite })
    }

    @Test("calibration samples: equal lengths, count a multiple of the clusters, within the token budget")
    func samples() throws {
        let documents = [Array(repeating: Int32(1), count: 100), Array(repeating: Int32(2), count: 50), [3, 3, 3]]
        let s = try CalibrationSamples.make(documents: documents, maxTokens: 128, clusters: 2, contextLimit: 64)
        // length = max(16, 128 / 8) = 16; 100 → 6 samples, 50 → 3 more would exceed 128 tokens after 8.
        #expect(s.count == 8)
        #expect(s.allSatisfy { $0.count == 16 })
        #expect(s.prefix(6).allSatisfy { $0.allSatisfy { $0 == 1 } })
        #expect(s.count % 2 == 0)
        #expect(throws: TransformError.self) {
            try CalibrationSamples.make(documents: [[1, 2, 3]], maxTokens: 64, clusters: 2, contextLimit: 64)
        }
        #expect(throws: TransformError.self) {
            try CalibrationSamples.make(documents: documents, maxTokens: 0, clusters: 2, contextLimit: 64)
        }
    }

    @Test("collector: per-layer inputs equal the probes, clusters are balanced, importance asked once per cluster")
    func collector() throws {
        Matmul.useSingleThreadedBLAS()
        let tmp = TemporaryDirectory()
        let (_, model) = try Self.denseModel(tmp)
        let samples = (0..<8).map { Self.tokens(16, seed: UInt64(100 + $0)) }
        var calls: [[[Int32]]] = []
        var reports: [CalibrationProgress] = []
        let layers = try CalibrationCollector.collect(
            model: model, samples: samples, clusters: 4, needs: [.activations, .importance], seed: 3,
            importance: { members, done in
                calls.append(members)
                done(1)
                done(members.count)
                return [[Float](repeating: Float(calls.count), count: 128), [Float](repeating: -Float(calls.count), count: 128)]
            },
            progress: { reports.append($0) })
        // Forward: one report per sample; importance: the closure's counts offset by the clusters before it.
        let forward = reports.filter { $0.phase == .forward }, importance = reports.filter { $0.phase == .importance }
        #expect(forward.map(\.samplesDone) == Array(1...8))
        #expect(forward.map(\.tokensDone) == (1...8).map { $0 * 16 })
        #expect(importance.map(\.samplesDone) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(importance.map(\.tokensDone) == (1...8).map { $0 * 16 })
        #expect(reports.allSatisfy { $0.samplesTotal == 8 })
        #expect(reports.last?.isPhaseFinished == true)
        #expect(layers.count == 2)
        #expect(calls.count == 4)
        #expect(calls.allSatisfy { $0.count == 2 })
        #expect(Set(calls.flatMap { $0 }.map { $0 }).count == 8)
        let first = try model.probe(samples[0], activations: true)
        for l in 0..<2 {
            #expect(layers[l].mlpInputs.shape == [128, 64])
            #expect(Array(layers[l].mlpInputs.values.prefix(16 * 64)) == first[l].mlpInputs.values)
            #expect(layers[l].activations?.shape == [128, 128])
            #expect(layers[l].importance?.count == 4)
        }
        #expect(layers[0].importance?[2].first == 3)
        #expect(layers[1].importance?[2].first == -3)
        let labels = layers[0].tokenLabels
        #expect(labels.count == 128)
        for c in 0..<4 { #expect(labels.filter { $0 == c }.count == 32) }
        // Every sample's tokens share one label.
        for s in 0..<8 { #expect(Set(labels[(s * 16)..<(s * 16 + 16)]).count == 1) }
    }
}
