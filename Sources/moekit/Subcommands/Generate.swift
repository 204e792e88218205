import ArgumentParser
import Foundation
import Runtime
import TensorCore

extension MoekitCommand {
    /// `moekit generate MODEL --prompt P [--max-tokens N] [--temperature t] [--seed s]`.
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Continue a prompt, streaming the text to stdout.",
            discussion: "Greedy at temperature 0 (the default); otherwise samples from softmax(logits / t) with --seed. Stops at the end-of-sequence token, after --max-tokens, or at the model's context length.")

        @Argument(help: "Model: GGUF file or Hugging Face directory.")
        var model: String

        @Option(help: "Prompt text.")
        var prompt: String

        @Option(parsing: .unconditional, help: "Most tokens to generate, ≥ 0.", transform: NumberOption.integer("--max-tokens", minimum: 0))
        var maxTokens = 64

        @Option(parsing: .unconditional, help: "Sampling temperature ≥ 0 (0 = greedy).",
            transform: NumberOption.real("--temperature", 0...Float.greatestFiniteMagnitude, expected: "a temperature ≥ 0 (0 = greedy)"))
        var temperature: Float = 0

        @Option(parsing: .unconditional, help: "Random seed for sampling, 0…2^64−1.", transform: NumberOption.seed("--seed"))
        var seed: UInt64 = 0

        @Option(help: recipesOptionHelp)
        var recipes: String?

        func validate() throws {
            if maxTokens < 0 { throw ValidationError("--max-tokens must be ≥ 0") }
            if temperature < 0 || !temperature.isFinite { throw ValidationError("--temperature must be ≥ 0") }
        }

        func run() throws {
            try reportingErrors {
                Matmul.useSingleThreadedBLAS()
                let (lm, tokenizer) = try loadModelAndTokenizer(path: model, recipes: recipes)
                let ids = tokenizer.encode(prompt, addBOS: true, parseSpecial: true)
                guard !ids.isEmpty else { throw ModelCommandError.emptyInput }
                let budget = max(0, min(maxTokens, lm.config.maxPositionEmbeddings - ids.count))
                writeStdout(prompt)
                var generated: [Int32] = []
                var printed = ""
                let start = Date()
                try lm.generate(
                    prompt: ids, maxTokens: budget, sampler: Sampler(temperature: temperature, seed: seed),
                    stopTokens: tokenizer.eosID.map { [$0] } ?? []
                ) { token in
                    generated.append(token)
                    // Print only complete characters: a token may end inside a multi-byte UTF-8 sequence.
                    let text = tokenizer.decode(generated, skipSpecial: true)
                    if !text.hasSuffix("\u{FFFD}"), text.hasPrefix(printed) {
                        writeStdout(String(text.dropFirst(printed.count)))
                        printed = text
                    }
                    return true
                }
                writeStdout("\n")
                let seconds = Date().timeIntervalSince(start)
                printError(String(format: "%d tokens in %.2f s (%.1f tokens/s)", generated.count, seconds, Double(generated.count) / max(seconds, 1e-9)))
            }
        }
    }
}

/// Writes unbuffered to stdout (streaming output).
private func writeStdout(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}
