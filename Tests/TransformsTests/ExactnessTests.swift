import Foundation
import Runtime
import TensorCore
import TestSupport
import Testing
import Transforms

/// `MoEModelWriter.isExactByConstruction` (recorded in the manifest, read by `moekit verify`) against the runtime:
/// where it says exact, the written model reproduces the dense logits; where it says not, it does not.
@Suite("Exact by construction", .serialized)
struct ExactnessTests {
    @Test("the exactness flag agrees with the runtime for each target and construction")
    func flagMatchesRuntime() throws {
        Matmul.useSingleThreadedBLAS()
        let tmp = TemporaryDirectory()
        try TinyLlama().writeHFDirectory(tmp.file("dense"))
        let dense = try MoEModelWriterTests.logits(tmp.file("dense"), MoEModelWriterTests.tokens)
        let maxDense = dense.values.reduce(0) { max($0, abs($1)) }
        let cases: [(String, MoEConstruction, Bool)] = [
            ("mixtral", .upcycle(UpcycleOptions(experts: 4, topK: 2, seed: 1)), true),
            ("qwen2-moe", .upcycle(UpcycleOptions(experts: 4, topK: 2, seed: 1)), false),
            ("qwen2-moe", .upcycle(UpcycleOptions(experts: 4, topK: 2, router: .zero, seed: 1)), true),
            ("olmoe", .upcycle(UpcycleOptions(experts: 4, topK: 2, router: .zero, seed: 1)), false),
            ("mixtral", .upcycle(UpcycleOptions(experts: 4, topK: 1, granularity: 2, seed: 1)), false),
            ("mixtral", .upcycle(UpcycleOptions(experts: 4, topK: 2, dropRatio: 0.5, seed: 1)), false),
            ("llama-moe", .split(SplitOptions(experts: 4, topK: 4, method: .random(seed: 2), rescale: .exact, router: .zero)), true),
            ("mixtral", .split(SplitOptions(experts: 4, topK: 2, method: .random(seed: 2))), false),
        ]
        for (index, (target, construction, expected)) in cases.enumerated() {
            let writer = try MoEModelWriterTests.writer(tmp.file("dense"), construction, target: target)
            #expect(writer.isExactByConstruction == expected, "case \(index): \(target)")
            let out = tmp.file("moe\(index)")
            let manifest = try writer.write(to: out)
            #expect(LogitComparison.exactByConstruction(manifest: manifest) == expected, "case \(index)")
            let moe = try MoEModelWriterTests.logits(out, MoEModelWriterTests.tokens)
            let worst = zip(dense.values, moe.values).reduce(0) { max($0, abs($1.0 - $1.1)) }
            if expected {
                #expect(worst <= 1e-4 * max(maxDense, 1), "case \(index): \(target) max |Δ| \(worst)")
            } else {
                #expect(worst > 1e-3, "case \(index): \(target) max |Δ| \(worst)")
            }
        }
    }
}
