import Foundation
import IOCore
import Tokenizer

/// Calibration text for `split`, `upcycle` and `verify`: a UTF-8 text file (one document) or JSON Lines, plain or
/// gzip (`.jsonl`, `.jsonl.gz`; one document per line in a string field).
struct CalibrationInput {
    let path: String
    /// JSONL field holding the text.
    let field: String

    /// Whether `path` is read as JSON Lines.
    var isJSONLines: Bool { path.hasSuffix(".jsonl") || path.hasSuffix(".jsonl.gz") || path.hasSuffix(".ndjson") }

    /// Tokenises documents in file order (BOS first when the tokenizer adds one) until at least `tokens` tokens are
    /// collected, so a large corpus is read only as far as needed.
    /// - Throws: `CalibrationInputError` for a missing, non-UTF-8 or empty file; `JSONLError` (file:line, field) for
    ///   malformed JSON Lines.
    func documents(tokenizer: any TextTokenizer, tokens: Int) throws -> [[Int32]] {
        var result: [[Int32]] = []
        var total = 0
        func add(_ text: String) -> Bool {
            guard text.contains(where: { !$0.isWhitespace }) else { return false }
            let ids = tokenizer.encode(text, addBOS: true, parseSpecial: false)
            if ids.count > 1 || (ids.count == 1 && ids[0] != tokenizer.bosID) {
                result.append(ids)
                total += ids.count
            }
            return total >= tokens
        }
        if isJSONLines {
            struct Enough: Error {}
            do {
                try JSONLReader.forEachString(field: field, in: path) { text in if add(text) { throw Enough() } }
            } catch is Enough {}
        } else {
            guard let data = FileManager.default.contents(atPath: path) else { throw CalibrationInputError.unreadable(path: path) }
            guard let text = String(validating: data, as: UTF8.self) else {
                throw CalibrationInputError.notText(path: path)
            }
            _ = add(text)
        }
        guard total > 0 else { throw CalibrationInputError.empty(path: path) }
        return result
    }
}

/// Errors reading calibration text.
enum CalibrationInputError: Error, CustomStringConvertible {
    case unreadable(path: String)
    case notText(path: String)
    case empty(path: String)

    var description: String {
        switch self {
        case .unreadable(let path): return "\(path): cannot read the calibration file"
        case .notText(let path):
            return "\(path): calibration file: expected UTF-8 text, or JSON Lines with a \"text\" field (.jsonl, .jsonl.gz)"
        case .empty(let path): return "\(path): calibration file holds no text"
        }
    }
}
