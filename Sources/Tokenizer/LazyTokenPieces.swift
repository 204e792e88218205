import Conversion
import Synchronization

/// A byte-level vocabulary's `TokenPieces`, built on the first decode. Encoding never needs them, so commands that
/// only encode, such as `prepare-data`, do not build them at start-up (SmolLM2's tables: 16–17 → 12 ms,
/// `moekit-bench prepare-data`'s `start-up` line). Copies of a tokenizer share one instance; building is thread-safe.
final class LazyTokenPieces: Sendable {
    private let data: TokenizerData
    private let pieces = Mutex<TokenPieces?>(nil)

    init(byteLevel data: TokenizerData) { self.data = data }

    /// `TokenPieces.bytes(of:skipSpecial:stripLeadingSpace:)`, building the pieces first if needed.
    func bytes(of ids: [Int32], skipSpecial: Bool, stripLeadingSpace: Bool) -> [UInt8] {
        let built = pieces.withLock { pieces in
            if pieces == nil { pieces = TokenPieces(byteLevel: data) }
            return pieces!
        }
        return built.bytes(of: ids, skipSpecial: skipSpecial, stripLeadingSpace: stripLeadingSpace)
    }
}
