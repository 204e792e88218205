import Foundation
import Runtime
import TensorCore
import TestSupport
import Testing

/// Distillation from a teacher's logits: a·τ²·KL(softmax(t/τ) ‖ softmax(z/τ)) per predicted position, averaged like
/// the cross-entropy; value and gradient against the Double reference.
@Suite("Distillation loss")
struct DistillationTests {
    @Test("loss and gradients with a teacher match the reference's definition and finite differences", arguments: [1.0, 2.0])
    func matchesReference(temperature: Double) throws {
        Matmul.useSingleThreadedBLAS()
        let model = try BackwardFixtures.model(tied: false, seed: 12)
        let teacher = try BackwardFixtures.model(tied: false, seed: 13)
        let sequences = BackwardFixtures.sequences
        // The teacher's logits for every row, sequences back to back.
        var teacherLogits: [Float] = []
        for s in sequences { teacherLogits += try teacher.logits(s).values }
        let options = DistillationOptions(teacherLogits: teacherLogits, coefficient: 0.7, temperature: Float(temperature))
        let parameters = ParameterBuffer(copying: model.parameters)
        let gradients = ParameterBuffer(layout: model.decoder.layout)
        let workspace = BackwardWorkspace(config: model.config, rows: 13, context: 7)
        let loss = try model.decoder.lossAndGradients(
            sequences, parameters: parameters, gradients: gradients, distillation: options, workspace: workspace)
        let reference = BackwardFixtures.reference(model)
        let base = model.parameters.values.map(Double.init)
        let teacherTuple = (logits: teacherLogits.map(Double.init), coefficient: 0.7, temperature: temperature)
        let expected = reference.loss(base, sequences, teacher: teacherTuple)
        print("τ = \(temperature): loss \(loss), reference total \(expected)")
        #expect(abs(Double(loss.total) - expected) <= 1e-4 * expected)
        #expect(loss.distillation > 0)
        var rng = SeededGenerator(seed: 3)
        var indices: [Int] = []
        for (name, slice) in model.parameters.layout.names where name.contains("lm_head") || name.contains("down_proj") || name.contains("q_proj") {
            indices += (0..<4).map { _ in slice.offset + Int(rng.next() % UInt64(slice.count)) }
        }
        let worst = BackwardGradientTests.worstRelativeError(indices: indices, base: base, gradients: gradients) {
            reference.loss($0, sequences, teacher: teacherTuple)
        }
        print("τ = \(temperature): max relative FD error \(String(format: "%.1e", worst))")
        #expect(worst < 1e-3)
        // The teacher itself as student: KL is zero.
        let selfTeacher = ParameterBuffer(copying: teacher.parameters)
        let zero = try teacher.decoder.lossAndGradients(
            sequences, parameters: selfTeacher, gradients: ParameterBuffer(layout: teacher.decoder.layout),
            distillation: options, workspace: workspace)
        #expect(abs(zero.distillation) < 1e-5)
    }
}
