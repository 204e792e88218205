#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A piece of input text after special tokens were cut out: raw bytes to pre-tokenize, or a token id.
enum TextFragment: Equatable {
    case raw(Range<Int>)
    case token(Int32)
}

/// Finds special-token strings (control, user-defined and unknown tokens) in raw text, before pre-tokenization.
///
/// Port of llama.cpp's `tokenizer_st_partition`: tokens are tried longest first; each one cuts every remaining
/// raw fragment at all of its non-overlapping occurrences, left to right. Control and unknown tokens are only
/// matched when `parseSpecial` is true; user-defined tokens always are (as in llama.cpp and Hugging Face
/// `tokenizers`). A first scan finds which tokens occur at all, so text without special tokens costs one pass.
struct SpecialTokenMatcher: Sendable {
    private struct Entry: Sendable {
        var bytes: [UInt8]
        var id: Int32
        var alwaysMatched: Bool
    }

    /// Candidates sorted by byte length (longest first), then id.
    private let entries: [Entry]
    /// Entry indices by first byte.
    private let byFirstByte: [[Int32]]
    /// Whether any candidate is matched without `parseSpecial` (user-defined tokens).
    private let anyAlwaysMatched: Bool

    /// - Parameters:
    ///   - tokens: token texts.
    ///   - types: `TokenizerData.TokenType` raw values (nil: all normal, nothing to match).
    init(tokens: [String], types: [Int32]?) {
        var entries: [Entry] = []
        if let types {
            for (id, type) in types.enumerated() where id < tokens.count {
                let isControl = type == 3 || type == 2
                let isUserDefined = type == 4
                guard isControl || isUserDefined else { continue }
                let bytes = Array(tokens[id].utf8)
                guard !bytes.isEmpty else { continue }
                entries.append(Entry(bytes: bytes, id: Int32(id), alwaysMatched: isUserDefined))
            }
        }
        entries.sort { $0.bytes.count != $1.bytes.count ? $0.bytes.count > $1.bytes.count : $0.id < $1.id }
        var buckets = [[Int32]](repeating: [], count: 256)
        for (i, entry) in entries.enumerated() { buckets[Int(entry.bytes[0])].append(Int32(i)) }
        self.entries = entries
        self.byFirstByte = buckets
        anyAlwaysMatched = entries.contains(where: \.alwaysMatched)
    }

    /// Whether any token can be matched.
    var isEmpty: Bool { entries.isEmpty }

    /// Splits `text` into raw fragments and special-token ids.
    func partition(_ text: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [TextFragment] {
        // Without parseSpecial only user-defined tokens can match; vocabularies without any (SmolLM2's
        // specials are all control tokens) skip the scan.
        guard !entries.isEmpty, !text.isEmpty, parseSpecial || anyAlwaysMatched else {
            return text.isEmpty ? [] : [.raw(0..<text.count)]
        }
        // Which candidates occur anywhere?
        var occurs = [Bool](repeating: false, count: entries.count)
        var anyOccurs = false
        for i in 0..<text.count {
            let bucket = byFirstByte[Int(text[i])]
            if bucket.isEmpty { continue }
            for e in bucket {
                let entry = entries[Int(e)]
                if occurs[Int(e)] || !(parseSpecial || entry.alwaysMatched) { continue }
                if matches(entry.bytes, text, at: i) {
                    occurs[Int(e)] = true
                    anyOccurs = true
                }
            }
        }
        guard anyOccurs else { return [.raw(0..<text.count)] }
        var fragments: [TextFragment] = [.raw(0..<text.count)]
        for (e, entry) in entries.enumerated() where occurs[e] {
            var next: [TextFragment] = []
            next.reserveCapacity(fragments.count + 2)
            for fragment in fragments {
                guard case .raw(let range) = fragment else {
                    next.append(fragment)
                    continue
                }
                var base = range.lowerBound
                var p = range.lowerBound
                while p + entry.bytes.count <= range.upperBound {
                    if matches(entry.bytes, text, at: p) {
                        if p > base { next.append(.raw(base..<p)) }
                        next.append(.token(entry.id))
                        p += entry.bytes.count
                        base = p
                    } else {
                        p += 1
                    }
                }
                if base < range.upperBound { next.append(.raw(base..<range.upperBound)) }
            }
            fragments = next
        }
        return fragments
    }

    @inline(__always)
    private func matches(_ needle: [UInt8], _ text: UnsafeBufferPointer<UInt8>, at i: Int) -> Bool {
        guard i + needle.count <= text.count else { return false }
        return needle.withUnsafeBufferPointer { n in memcmp(text.baseAddress! + i, n.baseAddress!, n.count) == 0 }
    }
}
