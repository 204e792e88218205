/// A file a user writes to configure a command (a plan, training options): JSON, or YAML (`.yaml`/`.yml`, through
/// Yams) read into the same JSON value, with the line and column of every YAML value so that schema violations can
/// point at the line.
public struct ConfigDocument: Sendable {
    /// Why a file could not be read as a document.
    public enum Failure: Error, Sendable {
        case notUTF8
        /// 1-based line and column of the syntax error.
        case syntax(line: Int, column: Int, message: String)
    }

    public let value: JSONValue
    /// JSON pointer → location of the YAML node (empty for JSON).
    public let locations: [String: YAMLLocation]

    /// Parses `bytes`; `path` names the file in YAML errors.
    public init(bytes: [UInt8], isYAML: Bool, path: String) throws(Failure) {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .notUTF8 }
        if isYAML {
            do {
                let yaml = try YAMLReader.parse(text, file: path)
                value = yaml.value
                locations = yaml.locations
            } catch {
                throw .syntax(line: error.line, column: error.column, message: error.message)
            }
        } else {
            do { value = try JSONParser.parse(bytes) } catch {
                let (line, column) = JSONParseError.lineAndColumn(of: error, in: bytes)
                throw .syntax(line: line, column: column, message: "\(error)")
            }
            locations = [:]
        }
    }

    /// Whether `path` names a YAML file.
    public static func isYAML(path: String) -> Bool { path.hasSuffix(".yaml") || path.hasSuffix(".yml") }

    /// The document's violations of `schema`, each as "line N, /pointer: message" (the line where known).
    public func violations(of schema: JSONValue) -> [String] {
        JSONSchemaValidator(schema: schema).validate(value).map { violation in
            let pointer = violation.pointer.isEmpty ? "/" : violation.pointer
            if let location = locations[violation.pointer] { return "line \(location.line), \(pointer): \(violation.message)" }
            return "\(pointer): \(violation.message)"
        }
    }
}
