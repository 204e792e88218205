/// A YAML text the reader rejects or cannot parse, with its 1-based position (libyaml's problem mark or the node).
public struct YAMLError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file (or other label) the text came from.
    public let file: String
    /// 1-based line number.
    public let line: Int
    /// 1-based column (in characters).
    public let column: Int
    /// What was wrong and what was expected.
    public let message: String

    /// Creates an error at `line`:`column` of `file`.
    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "\(file):\(line):\(column): \(message)" }
}
