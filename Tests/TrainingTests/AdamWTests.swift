import Foundation
import Runtime
import TestSupport
import Testing
import Training

@Suite("AdamW")
struct AdamWTests {
    @Test("two steps equal the update rule computed by hand in Double (decay only where it applies)")
    func twoSteps() throws {
        let model = try BackwardFixtures.model(tied: false, seed: 3)
        let layout = model.parameters.layout
        let parameters = ParameterBuffer(copying: model.parameters)
        let gradients = ParameterBuffer(layout: layout)
        let settings = AdamW.Settings(beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1)
        let optimizer = AdamW(layout: layout, settings: settings)
        let lr: Float = 0.01
        let norm = layout.names.first { $0.name.hasSuffix("input_layernorm.weight") }!.slice
        let weight = layout.names.first { $0.name.hasSuffix("q_proj.weight") }!.slice
        let p0 = parameters.withUnsafeBufferPointer { $0.map(Double.init) }
        var m = [Double](repeating: 0, count: layout.count), v = m, expected = p0
        for t in 1...2 {
            // Deterministic gradients: sin of the index, scaled per step.
            let step = (0..<layout.count).map { sin(Double($0) * 0.37 + Double(t)) * 0.01 }
            gradients.withUnsafeMutableBufferPointer { b in for i in 0..<b.count { b[i] = Float(step[i]) } }
            optimizer.update(parameters: parameters, gradients: gradients, learningRate: lr)
            for i in 0..<layout.count {
                let decays = i >= weight.offset && i < weight.offset + weight.count
                m[i] = 0.9 * m[i] + 0.1 * step[i]
                v[i] = 0.95 * v[i] + 0.05 * step[i] * step[i]
                let mh = m[i] / (1 - pow(0.9, Double(t))), vh = v[i] / (1 - pow(0.95, Double(t)))
                if decays { expected[i] *= 1 - Double(lr) * 0.1 }
                expected[i] -= Double(lr) * mh / (vh.squareRoot() + 1e-8)
            }
        }
        var worst = 0.0
        parameters.withUnsafeBufferPointer { p in
            for slice in [norm, weight] {
                for i in slice.offset..<(slice.offset + slice.count) { worst = max(worst, abs(Double(p[i]) - expected[i])) }
            }
        }
        #expect(worst < 1e-6, "max |Δ| \(worst)")
        #expect(optimizer.step == 2)
    }

    @Test("default decay: every matrix but the embedding; no norm or bias; --decay-all decays everything")
    func decayRule() throws {
        for tied in [false, true] {
            let layout = try BackwardFixtures.model(tied: tied, seed: 3).parameters.layout
            let groups = ParameterGroups(layout: layout)
            // Expected from the HF names (LLaMA conventions), independently of the shape rule the code uses.
            for segment in groups.segments {
                let vector = segment.name.hasSuffix("norm.weight") || segment.name.hasSuffix(".bias")
                let embedding = segment.name.contains("embed_tokens")
                #expect(segment.decays == !(vector || embedding), "\(segment.name)")
            }
            #expect(groups.segments.contains { $0.name.hasSuffix("norm.weight") })
            #expect(groups.segments.contains { $0.name.hasSuffix("q_proj.weight") })
            let all = ParameterGroups(layout: layout, decayAll: true).segments.filter { !$0.decays }
            #expect(all.isEmpty, "not decayed under decayAll: \(all.map(\.name))")
        }
    }

    @Test("a frozen tensor (learning-rate scale 0) and its moments do not move; clipping bounds the norm")
    func frozenAndClipped() throws {
        let model = try BackwardFixtures.model(tied: true, seed: 4)
        let layout = model.parameters.layout
        let parameters = ParameterBuffer(copying: model.parameters)
        let gradients = ParameterBuffer(layout: layout)
        gradients.withUnsafeMutableBufferPointer { for i in 0..<$0.count { $0[i] = 3 } }
        let before = gradients.withUnsafeBufferPointer { $0.reduce(0.0) { $0 + Double($1) * Double($1) } }.squareRoot()
        let reported = clipGradientNorm(gradients, maxNorm: 1)
        #expect(abs(reported - before) <= 1e-9 * before)
        let after = gradients.withUnsafeBufferPointer { $0.reduce(0.0) { $0 + Double($1) * Double($1) } }.squareRoot()
        #expect(abs(after - 1) < 1e-4)
        // Freeze the embedding (offset 0); everything after it trains.
        let frozen = layout.embedding
        let groups = ParameterGroups(layout: layout, learningRateScale: { name, _ in name.contains("embed_tokens") ? 0 : 1 })
        let optimizer = AdamW(layout: layout, groups: groups)
        let before0 = parameters.withUnsafeBufferPointer { Array($0) }
        optimizer.update(parameters: parameters, gradients: gradients, learningRate: 0.1)
        parameters.withUnsafeBufferPointer { p in
            #expect(Array(p[frozen.offset..<(frozen.offset + frozen.count)]) == Array(before0[frozen.offset..<(frozen.offset + frozen.count)]))
            #expect(p[frozen.offset + frozen.count] != before0[frozen.offset + frozen.count])
        }
        #expect(optimizer.firstMoment.withUnsafeBufferPointer { $0[frozen.offset..<(frozen.offset + frozen.count)].allSatisfy { $0 == 0 } })
    }
}
