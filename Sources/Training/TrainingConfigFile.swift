import IOCore

/// A `--config` file of `moekit train`: a JSON object, or YAML (`.yaml`/`.yml`) whose keys are the flag names
/// (`lb-coef: 0.01`), validated against `Schemas/train.schema.json`.
public enum TrainingConfigFile {
    /// Reads and validates the file at `path`.
    /// - Throws: `TrainingError.cannotRead`, `.configSyntax` (file:line:column), `.configSchema` (each violation with its
    ///   JSON pointer and, for YAML, its line).
    public static func read(path: String, schema: JSONValue) throws(TrainingError) -> JSONObject {
        let bytes: [UInt8]
        do { bytes = try PathUtilities.readBytes(path) } catch { throw .cannotRead(path: path, reason: "\(error)") }
        let document: ConfigDocument
        do { document = try ConfigDocument(bytes: bytes, isYAML: ConfigDocument.isYAML(path: path), path: path) } catch {
            switch error {
            case .notUTF8: throw .cannotRead(path: path, reason: "not UTF-8 text")
            case .syntax(let line, let column, let message): throw .configSyntax(path: path, line: line, column: column, message: message)
            }
        }
        let violations = document.violations(of: schema)
        guard violations.isEmpty else { throw .configSchema(path: path, violations: violations) }
        return document.value.objectValue!
    }

    /// Checks merged options (defaults, a resumed run's, the file's and the flags') against the train schema.
    /// - Throws: `TrainingError.configSchema` listing every violation; `source` names where the options came from.
    public static func validate(_ options: JSONObject, schema: JSONValue, source: String) throws(TrainingError) {
        let violations = JSONSchemaValidator(schema: schema).validate(.object(options)).map(\.description)
        guard violations.isEmpty else { throw .configSchema(path: source, violations: violations) }
    }
}
