import Formats

/// A `--config` file of `moekit train`: a JSON object, or YAML (`.yaml`/`.yml`, through Yams) whose keys are the
/// flag names (`lb-coef: 0.01`), validated against `Schemas/train.schema.json`.
public enum TrainingConfigFile {
    /// Reads and validates the file at `path`.
    /// - Throws: `TrainingError.cannotRead`, `.configSyntax` (file:line:column), `.configSchema` (each violation with its
    ///   JSON pointer and, for YAML, its line).
    public static func read(path: String, schema: JSONValue) throws(TrainingError) -> JSONObject {
        let bytes: [UInt8]
        do { bytes = try PathUtilities.readBytes(path) } catch { throw .cannotRead(path: path, reason: "\(error)") }
        return try parse(bytes, isYAML: path.hasSuffix(".yaml") || path.hasSuffix(".yml"), path: path, schema: schema)
    }

    /// Parses config text already in memory; `path` names it in errors.
    public static func parse(_ bytes: [UInt8], isYAML: Bool, path: String, schema: JSONValue) throws(TrainingError) -> JSONObject {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .cannotRead(path: path, reason: "not UTF-8 text") }
        let document: JSONValue
        var locations: [String: YAMLLocation] = [:]
        if isYAML {
            do {
                let yaml = try YAMLReader.parse(text, file: path)
                document = yaml.value
                locations = yaml.locations
            } catch {
                throw .configSyntax(path: path, line: error.line, column: error.column, message: error.message)
            }
        } else {
            do { document = try JSONParser.parse(bytes) } catch {
                let (line, column) = JSONParseError.lineAndColumn(of: error, in: bytes)
                throw .configSyntax(path: path, line: line, column: column, message: "\(error)")
            }
        }
        try validate(document, schema: schema, path: path, locations: locations)
        return document.objectValue!
    }

    /// Checks `document` against the train schema.
    /// - Throws: `TrainingError.configSchema` listing every violation (with its YAML line where `locations` has it).
    public static func validate(
        _ document: JSONValue, schema: JSONValue, path: String, locations: [String: YAMLLocation] = [:]
    ) throws(TrainingError) {
        let violations = JSONSchemaValidator(schema: schema).validate(document)
        guard violations.isEmpty else {
            throw .configSchema(path: path, violations: violations.map { violation in
                let pointer = violation.pointer.isEmpty ? "/" : violation.pointer
                if let location = locations[violation.pointer] { return "line \(location.line), \(pointer): \(violation.message)" }
                return "\(pointer): \(violation.message)"
            })
        }
    }
}
