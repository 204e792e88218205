import IOCore

/// One evaluation item after its data row was read by the task's format: the template fields and what is scored.
public struct TaskDocument: Sendable, Equatable {
    /// What the item asks the model to score.
    public enum Content: Sendable, Equatable {
        /// Multiple choice after one prompt (rendered from the template): `choices[gold]` is correct.
        case choices([String], gold: Int)
        /// Partial scoring (Winogrande): the same `continuation` after each context option; option `gold` is correct.
        /// Each option is rendered through the template with the field `context` bound to it.
        case contextOptions([String], continuation: String, gold: Int)
        /// One target after the prompt (LAMBADA): scored for log-likelihood and greediness.
        case target(String)
        /// A whole document for rolling log-likelihood.
        case text(String)
    }

    /// 1-based line of the row in its data file.
    public var line: Int
    /// The data row as read (kept for `--log-samples`).
    public var row: JSONValue
    /// Values available to `{{field}}` markers: the row's scalar fields plus those the format derives.
    public var fields: [String: String]
    /// What is scored.
    public var content: Content

    public init(line: Int, row: JSONValue, fields: [String: String], content: Content) {
        self.line = line
        self.row = row
        self.fields = fields
        self.content = content
    }
}
