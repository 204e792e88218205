import Conversion
import Foundation
import TestSupport

@testable import Tokenizer

/// Small byte-level BPE tokenizers built in code: byte b is token b (GPT-2 alphabet), merges "Ġ t" → 256 and
/// "h e" → 257, optional filler tokens, then `<|endoftext|>` (EOS) and `<s>` (BOS). Every id the tests expect
/// follows from these rules by hand.
enum TinyTokenizers {
    static func data(addBOS: Bool = false, merges: [String] = ["Ġ t", "h e"], fillerTokens: Int = 0) -> TokenizerData {
        var tokens = ByteLevelAlphabet.scalarForByte.map { String(Unicode.Scalar($0)!) }
        tokens += ["Ġt", "he"]
        tokens += (0..<fillerTokens).map { "<filler\($0)>" }
        var types = [Int32](repeating: 1, count: tokens.count)
        tokens += ["<|endoftext|>", "<s>"]
        types += [3, 3]
        var data = TokenizerData(model: "gpt2", tokens: tokens)
        data.tokenTypes = types
        data.merges = merges
        data.pre = "gpt2"
        data.eosID = tokens.count - 2
        data.bosID = tokens.count - 1
        data.addBOS = addBOS
        return data
    }

    /// python3 on PATH, if any.
    static let python: String? = {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(directory)/python3"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }()
}
