/// One input of `prepare-data`: a file and the domain its documents belong to (unless a domain field decides).
public struct CorpusInput: Sendable, Equatable {
    public var path: String
    /// Domain named on the command line (`name=path`) or derived from the file name; nil with a domain field.
    public var domain: String?
    public var format: CorpusFormat

    public init(path: String, domain: String?, format: CorpusFormat? = nil) {
        self.path = path
        self.domain = domain
        self.format = format ?? CorpusFormat.forPath(path)
    }

    /// Parses `name=path` or `path`; the domain of a bare path is its file name without `.jsonl`, `.json`,
    /// `.ndjson`, `.txt`, `.text` and `.gz` (`data/book.jsonl.gz` → `book`).
    /// - Throws: `TrainingDataError.invalidDomainName` when the name is not usable.
    public static func parse(_ argument: String, usesDomainField: Bool) throws(TrainingDataError) -> CorpusInput {
        if let equals = argument.firstIndex(of: "="), !argument[..<equals].contains("/") {
            let name = String(argument[..<equals])
            let path = String(argument[argument.index(after: equals)...])
            try validateDomainName(name, source: argument)
            return CorpusInput(path: path, domain: name)
        }
        if usesDomainField { return CorpusInput(path: argument, domain: nil) }
        let name = domainName(fromPath: argument)
        try validateDomainName(name, source: argument)
        return CorpusInput(path: argument, domain: name)
    }

    /// `dir/book.jsonl.gz` → `book`.
    public static func domainName(fromPath path: String) -> String {
        var name = String(path.split(separator: "/", omittingEmptySubsequences: true).last ?? "")
        for suffix in [".gz", ".jsonl", ".ndjson", ".json", ".txt", ".text"] where name.hasSuffix(suffix) {
            name.removeLast(suffix.count)
        }
        return name
    }

    /// Domain names become file names: letters, digits, `_`, `-`, `.`; not starting with `.`.
    public static func validateDomainName(_ name: String, source: String) throws(TrainingDataError) {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x5F || byte == 0x2D || byte == 0x2E
        }
        guard !name.isEmpty, allowed, !name.hasPrefix("."), name.utf8.count <= 100 else {
            throw .invalidDomainName(name: name, source: source)
        }
    }
}
