/// Matches and fills checkpoint name patterns with a `{L}` layer marker
/// (`model.layers.{L}.mlp.up_proj.weight`).
public struct NamePattern: Sendable, Hashable {
    /// The pattern text.
    public let pattern: String
    private let prefix: Substring
    private let suffix: Substring
    private let hasLayer: Bool

    public init(_ pattern: String) {
        self.pattern = pattern
        if let range = pattern.range(of: "{L}") {
            prefix = pattern[..<range.lowerBound]
            suffix = pattern[range.upperBound...]
            hasLayer = true
        } else {
            prefix = Substring(pattern)
            suffix = ""
            hasLayer = false
        }
    }

    /// The name for `layer` (the pattern itself when it has no `{L}`).
    public func name(layer: Int?) -> String {
        guard hasLayer else { return pattern }
        return String(prefix) + String(layer ?? 0) + String(suffix)
    }

    /// If `name` matches, returns `.some(layer)` (`.some(nil)` for patterns without `{L}`); otherwise nil.
    public func match(_ name: String) -> Int?? {
        guard hasLayer else { return name == pattern ? .some(nil) : nil }
        guard name.count > prefix.count + suffix.count, name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        let middle = name.dropFirst(prefix.count).dropLast(suffix.count)
        guard !middle.isEmpty, middle.allSatisfy(\.isASCII), middle.allSatisfy(\.isNumber),
            middle == "0" || !middle.hasPrefix("0"), let layer = Int(middle)
        else { return nil }
        return .some(layer)
    }
}
