import Foundation
import Formats

/// Reads a plan file (JSON, or YAML through `YAMLReader` for `.yaml`/`.yml`), validates it against
/// `Schemas/plan.schema.json` and builds the typed `ConversionPlan`. Nothing is written.
public enum PlanReader {
    /// Reads and validates the plan at `path` against `schema` (the parsed plan schema).
    /// - Throws: `PlanError` naming the file, the field (JSON pointer, and the YAML line when known) and what was
    ///   expected.
    public static func read(path: String, schema: JSONValue) throws(PlanError) -> ConversionPlan {
        let bytes: [UInt8]
        do { bytes = try PathUtilities.readBytes(path) } catch { throw .cannotRead(path: path, reason: "\(error)") }
        let isYAML = path.hasSuffix(".yaml") || path.hasSuffix(".yml")
        return try parse(bytes, isYAML: isYAML, path: path, schema: schema)
    }

    /// Parses plan text already in memory; `path` names it in errors.
    public static func parse(_ bytes: [UInt8], isYAML: Bool, path: String, schema: JSONValue) throws(PlanError) -> ConversionPlan {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .cannotRead(path: path, reason: "not UTF-8 text")
        }
        let document: JSONValue
        var locations: [String: YAMLLocation] = [:]
        if isYAML {
            do {
                let yaml = try YAMLReader.parse(text, file: path)
                document = yaml.value
                locations = yaml.locations
            } catch {
                throw .syntax(path: path, line: error.line, column: error.column, message: error.message)
            }
        } else {
            do {
                document = try JSONParser.parse(bytes)
            } catch {
                let (line, column) = JSONParseError.lineAndColumn(of: error, in: bytes)
                throw .syntax(path: path, line: line, column: column, message: "\(error)")
            }
        }
        let violations = JSONSchemaValidator(schema: schema).validate(document)
        guard violations.isEmpty else {
            throw .schema(path: path, violations: violations.map { violation in
                let pointer = violation.pointer.isEmpty ? "/" : violation.pointer
                if let location = locations[violation.pointer] {
                    return "line \(location.line), \(pointer): \(violation.message)"
                }
                return "\(pointer): \(violation.message)"
            })
        }
        return try PlanDecoder(path: path).decode(document)
    }
}
