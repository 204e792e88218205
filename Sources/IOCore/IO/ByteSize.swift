/// Parses human-readable byte sizes such as `--max-shard-size 5GB`.
///
/// Units follow Hugging Face (`huggingface_hub` / transformers `convert_file_size_to_int`): `KB`, `MB`, `GB`,
/// `TB` are decimal (10^3…10^12) and `KiB`, `MiB`, `GiB`, `TiB` binary (2^10…2^40). A bare number or a `B`
/// suffix means bytes; `K`, `M`, `G`, `T` alone are decimal. Units are case-insensitive, whitespace between the
/// number and unit is allowed, and a decimal fraction (`1.5GB`) is truncated to whole bytes.
public enum ByteSize {
    /// The number of bytes `text` denotes, or nil when it is not a size or does not fit in `Int`.
    public static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingSpaces()
        guard !trimmed.isEmpty else { return nil }
        // Split into number and unit.
        let chars = Array(trimmed.utf8)
        var i = 0
        while i < chars.count, (chars[i] >= 0x30 && chars[i] <= 0x39) || chars[i] == UInt8(ascii: ".") { i += 1 }
        let number = chars[0..<i]
        let unit = String(decoding: chars[i...], as: UTF8.self).trimmingSpaces().uppercased()
        let multiplier: Int
        switch unit {
        case "", "B": multiplier = 1
        case "K", "KB": multiplier = 1_000
        case "M", "MB": multiplier = 1_000_000
        case "G", "GB": multiplier = 1_000_000_000
        case "T", "TB": multiplier = 1_000_000_000_000
        case "KIB": multiplier = 1 << 10
        case "MIB": multiplier = 1 << 20
        case "GIB": multiplier = 1 << 30
        case "TIB": multiplier = 1 << 40
        default: return nil
        }
        let parts = number.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let whole = parts.first, !whole.isEmpty else { return nil }
        guard let integer = digitsValue(whole) else { return nil }
        var (result, overflow) = integer.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        if parts.count == 2 {
            let fraction = parts[1]
            guard !fraction.isEmpty else { return nil }
            guard fraction.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let value = Double("0." + String(decoding: fraction, as: UTF8.self))
            else { return nil }
            let bytes = Int((value * Double(multiplier)).rounded())
            (result, overflow) = result.addingReportingOverflow(bytes)
            guard !overflow else { return nil }
        }
        return result
    }

    private static func digitsValue(_ digits: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for d in digits {
            guard d >= 0x30, d <= 0x39 else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(d - 0x30))
            guard !o1, !o2 else { return nil }
            value = sum
        }
        return value
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
