import Foundation
import Runtime
import TensorCore
import TestSupport
import Testing

/// PyTorch autograd parity of the backward pass (llm.c's golden-gradient pattern), run only when
/// `MOEKIT_BACKWARD_XCHECK_PYTHON` names a Python with torch + transformers: scripts/crosscheck_backward.py.
@Suite("Backward cross-check with PyTorch")
struct BackwardCrossCheckTests {
    static let python = ProcessInfo.processInfo.environment["MOEKIT_BACKWARD_XCHECK_PYTHON"]

    @Test(
        "loss and gradients match transformers' LlamaForCausalLM",
        .requiresPython(named: "MOEKIT_BACKWARD_XCHECK_PYTHON", importing: "torch", "transformers"))
    func matchesTransformers() throws {
        Matmul.useSingleThreadedBLAS()
        let directory = TemporaryDirectory()
        var tiny = TinyLlama()
        tiny.hidden = 32
        tiny.intermediate = 48
        tiny.tiedEmbeddings = false
        try tiny.writeHFDirectory(directory.path)
        let (model, _) = try LanguageModel.load(path: directory.path)
        let sequences: [[Int32]] = [[72, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100], [84, 104, 101, 32, 99, 97, 116]]
        var gradients: [Float] = []
        let loss = try model.lossAndGradients(sequences, gradients: &gradients)
        var selected: [String: [Double]] = [:]
        for (name, slice) in model.parameters.layout.names
        where name.contains("layers.0.") || name.contains("embed") || name.contains("lm_head") || name.hasPrefix("model.norm") {
            selected[name] = gradients[slice.offset..<(slice.offset + slice.count)].map(Double.init)
        }
        let payload: [String: Any] = ["sequences": sequences.map { $0.map(Int.init) }, "loss": Double(loss), "gradients": selected]
        let dataPath = directory.path + "/backward.json"
        try JSONSerialization.data(withJSONObject: payload).write(to: URL(fileURLWithPath: dataPath))
        let script = TestModels.repositoryRoot + "/scripts/crosscheck_backward.py"
        let (status, output) = try TestModels.run(Self.python!, [script, directory.path, dataPath])
        print(output)
        #expect(status == 0, "\(output)")
    }
}
