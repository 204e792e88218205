import Evaluation
import Foundation
import Runtime
import Tokenizer

/// Test tokenizer: one token per Unicode scalar (id = scalar value); BOS and EOS just past the Unicode range.
struct CharacterTokenizer: TextTokenizer {
    static let bos: Int32 = 0x11_0000
    static let eos: Int32 = 0x11_0001
    /// Whether `encode(addBOS: true)` prepends BOS (the "tokenizer configuration").
    var addsBOS = false
    var vocabularySize: Int { 0x11_0002 }
    var bosID: Int32? { Self.bos }
    var eosID: Int32? { Self.eos }

    func encode(_ text: String, addBOS: Bool, parseSpecial: Bool) -> [Int32] {
        (addBOS && addsBOS ? [Self.bos] : []) + text.unicodeScalars.map { Int32($0.value) }
    }

    func decode(_ ids: [Int32], skipSpecial: Bool) -> String {
        String(String.UnicodeScalarView(ids.compactMap { Unicode.Scalar(UInt32($0)) }))
    }
}

/// Test model with a closed-form next-token distribution: log p(t | previous token p) = −0.1 · ((t + p) mod 4 + 1).
/// The greedy token after p is any t with (t + p) mod 4 = 0. Records every call and enforces the `TokenScorer`
/// precondition (throws instead of trapping).
final class FakeScorer: TokenScorer {
    struct PreconditionViolated: Error {}
    let contextLength: Int
    var vocabularySize: Int { 0x11_0002 }
    private(set) var calls: [(context: [Int32], continuations: [[Int32]])] = []

    init(contextLength: Int = 4096) { self.contextLength = contextLength }

    static func logProbability(_ token: Int32, after previous: Int32) -> Double {
        -0.1 * Double((Int(token) + Int(previous)) % 4 + 1)
    }

    static func isGreedy(_ token: Int32, after previous: Int32) -> Bool { (Int(token) + Int(previous)) % 4 == 0 }

    /// Σ log p over `continuation` after `context` (the closed form the tests compare with).
    static func logLikelihood(context: [Int32], continuation: [Int32]) -> Double {
        var previous = context.last!
        var total = 0.0
        for token in continuation {
            total += logProbability(token, after: previous)
            previous = token
        }
        return total
    }

    func score(context: [Int32], continuations: [[Int32]]) throws -> [ContinuationScore] {
        calls.append((context, continuations))
        guard !context.isEmpty else { throw PreconditionViolated() }
        return try continuations.map { continuation in
            guard context.count + continuation.count <= contextLength, !continuation.isEmpty else { throw PreconditionViolated() }
            var previous = context.last!
            var lps: [Float] = []
            var greedy = true
            for token in continuation {
                lps.append(Float(Self.logProbability(token, after: previous)))
                greedy = greedy && Self.isGreedy(token, after: previous)
                previous = token
            }
            return ContinuationScore(
                logLikelihood: Self.logLikelihood(context: context, continuation: continuation), isGreedy: greedy,
                tokenLogProbabilities: lps)
        }
    }
}

/// Helpers to write task and data files into a temporary directory.
enum TaskFiles {
    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }
    static var schemaPath: String { repositoryRoot + "/Schemas/task.schema.json" }
    static var builtInDirectory: String { repositoryRoot + "/Tasks" }

    static func write(_ text: String, to path: String) {
        try! text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Writes `<name>.json` with the given JSON body and returns its path.
    @discardableResult
    static func task(_ name: String, in directory: String, _ json: String) -> String {
        let path = directory + "/" + name + ".json"
        write(json, to: path)
        return path
    }
}
