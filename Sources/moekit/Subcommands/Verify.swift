import ArgumentParser
import Conversion
import Foundation
import IOCore
import Runtime
import TensorCore
import Transforms

extension MoekitCommand {
    /// `moekit verify DENSE MOE [--text T | --calibration F] [--json]`.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a dense model and its MoE on the same tokens and compare their logits.",
            discussion: """
                Reports max and mean |Δlogit|, KL(dense‖moe), top-1 agreement, each model's perplexity, the relative \
                error ‖ffn_moe(x) − ffn_dense(x)‖ / ‖ffn_dense(x)‖ of every layer's FFN block on the dense model's own \
                FFN inputs x, whether the MoE's manifest says the transform is exact by construction, and whether \
                max |Δlogit| ≤ 1e-4 · max |logit|. With --tolerance T it exits with status 1 when max |Δlogit| > T and \
                says how much of that the storage types explain: weights rounded to F16/BF16 (or quantized) move the \
                logits even when the construction is exact, so compare an F32 output (--dtype f32) to see the \
                construction alone.
                """)

        static let defaultText = """
            The history of the English language began with the arrival of three Germanic tribes who invaded Britain \
            during the fifth century. The Angles, the Saxons and the Jutes crossed the North Sea from what is today \
            Denmark and northern Germany. Over the following centuries their dialects mixed with Latin, Norse and \
            French, and the language that emerged is spoken today by hundreds of millions of people around the world.
            """

        @Argument(help: "The dense model (GGUF or HF directory).")
        var dense: String

        @Argument(help: "The MoE model (GGUF or HF directory).")
        var moe: String

        @Option(help: "Text to run (default: a built-in English paragraph).")
        var text: String?

        @Option(help: "Calibration text to run instead: UTF-8 text, or JSON Lines (.jsonl, .jsonl.gz) with a text field.")
        var calibration: String?

        @Option(help: "JSON Lines field that holds the text.")
        var field: String = "text"

        @Option(parsing: .unconditional, help: "Use at most this many tokens, ≥ 1.", transform: NumberOption.integer("--max-tokens", minimum: 1))
        var maxTokens: Int = 256

        @Option(parsing: .unconditional, help: "Exit with status 1 when max |Δlogit| exceeds this (≥ 0).",
            transform: NumberOption.real("--tolerance", 0...Double.infinity, expected: "a logit difference ≥ 0"))
        var tolerance: Double?

        @Flag(help: "Print JSON.")
        var json = false

        @Option(help: recipesOptionHelp)
        var recipes: String?

        func run() throws {
            try reportingErrors {
                Matmul.useSingleThreadedBLAS()
                let (denseModel, tokenizer) = try loadModelAndTokenizer(path: dense, recipes: recipes)
                var ids: [Int32]
                if let calibration {
                    guard text == nil else { throw ModelCommandError.inputChoice("--text and --calibration") }
                    ids = try CalibrationInput(path: calibration, field: field).documents(tokenizer: tokenizer, tokens: maxTokens).flatMap { $0 }
                } else {
                    ids = tokenizer.encode(text ?? Self.defaultText, addBOS: true, parseSpecial: false)
                }
                guard !ids.isEmpty else { throw ModelCommandError.emptyInput }
                ids = Array(ids.prefix(min(maxTokens, denseModel.config.maxPositionEmbeddings)))
                let denseLogits = try denseModel.logits(ids)
                let moeModel = try LanguageModel.load(path: moe, recipesDirectory: recipes).model
                guard moeModel.config.vocabularySize == denseModel.config.vocabularySize else {
                    throw ValidationError("vocabulary sizes differ: \(denseModel.config.vocabularySize) vs \(moeModel.config.vocabularySize)")
                }
                let moeLogits = try moeModel.logits(ids)
                let c = LogitComparison(dense: denseLogits, moe: moeLogits, ids: ids)
                let ffnErrors = try FFNComparison.relativeErrors(dense: denseModel, moe: moeModel, tokens: ids)
                let exact = LogitComparison.exactByConstruction(manifest: try? Manifest.read(modelPath: moe))
                let withinTolerance = tolerance.map { c.maxAbsDelta <= $0 }
                if json {
                    print(JSONWriter.serialize(.object(JSONObject([
                        ("tokens", .integer(Int64(c.tokens))), ("max_abs_delta_logit", .number(c.maxAbsDelta)),
                        ("mean_abs_delta_logit", .number(c.meanAbsDelta)), ("kl_dense_moe", .number(c.klDenseMoE)),
                        ("top1_agreement", .number(c.top1Agreement)), ("perplexity_dense", .number(c.perplexityDense)),
                        ("perplexity_moe", .number(c.perplexityMoE)), ("exact_by_construction", .bool(exact)),
                        ("within_1e-4_relative", .bool(c.withinRelativeTolerance)),
                        ("ffn_relative_error", .array(ffnErrors.map { .number(Double($0)) })),
                        ("ffn_relative_error_max", .number(Double(ffnErrors.max() ?? 0))),
                        ("tolerance", tolerance.map { .number($0) } ?? .null),
                        ("within_tolerance", withinTolerance.map { .bool($0) } ?? .null),
                    ]))))
                } else {
                    print("tokens: \(c.tokens)")
                    print(String(format: "max |Δlogit|: %.3e\nmean |Δlogit|: %.3e\nKL(dense‖moe): %.3e\ntop-1 agreement: %.4f\nperplexity: dense %.4f, moe %.4f",
                        c.maxAbsDelta, c.meanAbsDelta, c.klDenseMoE, c.top1Agreement, c.perplexityDense, c.perplexityMoE))
                    let worst = ffnErrors.indices.max { ffnErrors[$0] < ffnErrors[$1] } ?? 0
                    print(String(format: "FFN relative error per layer: max %.3e (layer %d), mean %.3e", ffnErrors.max() ?? 0, worst,
                        ffnErrors.reduce(0, +) / Float(max(ffnErrors.count, 1))))
                    print("  " + ffnErrors.enumerated().map { String(format: "%d:%.2e", $0.offset, $0.element) }.joined(separator: " "))
                    print("exact by construction: \(exact ? "yes" : "no"); within 1e-4 relative: \(c.withinRelativeTolerance ? "yes" : "no")")
                    if let tolerance, let withinTolerance {
                        print(String(format: "within --tolerance %g: %@", tolerance, withinTolerance ? "yes" : "no"))
                    }
                }
                if let tolerance, withinTolerance == false {
                    let types = try [("dense", dense), ("MoE", moe)].map { label, path in
                        (label, try ModelSource.open(path, recipesDirectory: recipes).storageDescription)
                    }
                    let rounding = types.map { "the \($0.0) model's weights are \($0.1)" }.joined(separator: "; ")
                    throw ValidationError(
                        String(format: "max |Δlogit| %.3e exceeds --tolerance %g. ", c.maxAbsDelta, tolerance) + rounding
                            + ". Rounding every weight to its storage type moves the logits even when the transform is exact "
                            + "(exact by construction: \(exact ? "yes" : "no")); write the MoE with --dtype f32 to measure the construction alone, "
                            + "or raise --tolerance")
                }
            }
        }
    }
}
