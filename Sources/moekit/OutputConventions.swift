import ArgumentParser
import Formats
import Foundation
import IOCore
import TensorCore

/// The conventions users bring from llama.cpp, transformers and mergekit: the output format follows the output's
/// extension, dtypes have their torch spellings too, and numbers are checked against the option's real constraint.
enum OutputConventions {
    /// What a writer produces.
    enum Kind: String {
        case gguf, safetensors
    }

    /// The format an output path implies: `.gguf` (any case) is a GGUF file, anything else a Hugging Face directory.
    static func implied(by output: String) -> Kind {
        output.lowercased().hasSuffix(".gguf") ? .gguf : .safetensors
    }

    /// The output format: `explicit` (from `option`) when given, which must agree with the extension of `output`;
    /// otherwise the extension's. Without an output (a dry run) the explicit value or safetensors.
    /// - Throws: `ValidationError` naming the option, the output and both formats when they contradict.
    static func format(output: String?, explicit: String?, option: String) throws -> Kind {
        var chosen: Kind?
        if let explicit {
            guard let parsed = Kind(rawValue: explicit.lowercased()) ?? (explicit.lowercased() == "hf" ? .safetensors : nil) else {
                throw ValidationError("\(option): expected safetensors (a Hugging Face directory) or gguf, found '\(explicit)'")
            }
            chosen = parsed
        }
        guard let output else { return chosen ?? .safetensors }
        let implied = implied(by: output)
        if let chosen, chosen != implied {
            throw ValidationError(
                chosen == .gguf
                    ? "\(option) gguf contradicts the output \(output): a GGUF output must end in .gguf (or leave \(option) out to write a Hugging Face directory)"
                    : "\(option) safetensors contradicts the output \(output): a name ending in .gguf is a GGUF file; name the directory without .gguf or leave \(option) out")
        }
        return implied
    }

    /// `format(output:explicit:option:)`, but when the explicit format contradicts the extension the output-safety
    /// checks (`OutputChecks`, for the format asked for) run first, so that an output that is or lies inside an input
    /// is reported as such rather than as a naming problem.
    static func checkedFormat(output: String, explicit: String?, option: String, inputs: [String], force: Bool) throws -> Kind {
        do {
            return try format(output: output, explicit: explicit, option: option)
        } catch let contradiction as ValidationError {
            if let explicit, let asked = Kind(rawValue: explicit.lowercased()) {
                try OutputChecks.check(output: output, inputs: inputs, force: force, directoryOutput: asked == .safetensors)
            }
            throw contradiction
        }
    }

    /// Float dtype spellings: moekit's and llama.cpp's (f32, f16, bf16) and PyTorch's (float32, float16, bfloat16;
    /// fp32, fp16 and half too), any case.
    static func floatType(_ text: String) -> DType? {
        switch text.lowercased() {
        case "f32", "float32", "fp32", "float": return .f32
        case "f16", "float16", "fp16", "half": return .f16
        case "bf16", "bfloat16": return .bf16
        default: return nil
        }
    }

    /// A float output type from `--dtype`.
    /// - Throws: `ValidationError` listing the accepted spellings.
    static func parseFloat(_ text: String, option: String = "--dtype", context: String = "") throws -> DType {
        guard let type = floatType(text) else {
            throw ValidationError("\(option): expected f32|float32, f16|float16 or bf16|bfloat16\(context), found '\(text)'")
        }
        return type
    }

    /// A GGUF output type from `--dtype`: a float spelling or q8_0, q4_0, q4_1.
    /// - Throws: `ValidationError` listing the accepted types.
    static func parseGGUF(_ text: String, option: String = "--dtype") throws -> GGMLType {
        if let float = floatType(text), let type = GGMLType(dense: float) { return type }
        guard let type = GGMLType(name: text), type.canQuantize else {
            throw ValidationError("\(option): expected f32|float32, f16|float16, bf16|bfloat16, q8_0, q4_0 or q4_1 for GGUF output, found '\(text)'")
        }
        return type
    }

    /// `--max-shard-size` in bytes.
    /// - Throws: `ValidationError` unless a positive size such as 5GB or 500MB.
    static func shardSize(_ text: String) throws -> Int {
        guard let size = ByteSize.parse(text), size > 0 else {
            throw ValidationError("--max-shard-size: expected a size such as 5GB or 500MB, found '\(text)'")
        }
        return size
    }

    /// Refuses a GGUF output without a vocabulary unless `--allow-no-vocab`.
    /// - Throws: `ValidationError` naming the input.
    static func requireVocabulary(_ has: Bool, input: String, allowed: Bool) throws {
        guard !has, !allowed else { return }
        throw ValidationError(
            "\(input): the model has no vocabulary (no tokenizer.json or tokenizer.ggml.* keys), so the GGUF would have "
                + "tokenizer.ggml.model = no_vocab and llama.cpp could not tokenize text; add the tokenizer to the input or pass --allow-no-vocab")
    }
}

/// Numeric options, parsed from any token (so `-1` reaches the check instead of being read as a flag) and checked
/// against the option's constraint with a message that states it.
enum NumberOption {
    /// An integer ≥ `minimum`.
    static func integer(_ option: String, minimum: Int) -> @Sendable (String) throws -> Int {
        { text in
            guard let value = Int(text), value >= minimum else {
                throw ValidationError("\(option): expected an integer ≥ \(minimum), found '\(text)'")
            }
            return value
        }
    }

    /// A seed: an integer in 0…2^64−1.
    static func seed(_ option: String) -> @Sendable (String) throws -> UInt64 {
        { text in
            guard let value = UInt64(text) else {
                throw ValidationError("\(option): expected an integer in 0…18446744073709551615, found '\(text)'")
            }
            return value
        }
    }

    /// A finite number in `range` (described as `expected`).
    static func real<T: BinaryFloatingPoint & LosslessStringConvertible & Sendable>(
        _ option: String, _ range: ClosedRange<T>, expected: String
    ) -> @Sendable (String) throws -> T {
        { text in
            guard let value = T(text), value.isFinite, range.contains(value) else {
                throw ValidationError("\(option): expected \(expected), found '\(text)'")
            }
            return value
        }
    }
}
