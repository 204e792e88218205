import Foundation
import IOCore

/// Reads a plan file (JSON, or YAML through `YAMLReader` for `.yaml`/`.yml`), validates it against
/// `Schemas/plan.schema.json` and builds the typed `ConversionPlan`. Nothing is written.
public enum PlanReader {
    /// Reads and validates the plan at `path` against `schema` (the parsed plan schema).
    /// - Throws: `PlanError` naming the file, the field (JSON pointer, and the YAML line when known) and what was
    ///   expected.
    public static func read(path: String, schema: JSONValue) throws(PlanError) -> ConversionPlan {
        let bytes: [UInt8]
        do { bytes = try PathUtilities.readBytes(path) } catch { throw .cannotRead(path: path, reason: "\(error)") }
        return try parse(bytes, isYAML: ConfigDocument.isYAML(path: path), path: path, schema: schema)
    }

    /// Parses plan text already in memory; `path` names it in errors.
    public static func parse(_ bytes: [UInt8], isYAML: Bool, path: String, schema: JSONValue) throws(PlanError) -> ConversionPlan {
        let document: ConfigDocument
        do { document = try ConfigDocument(bytes: bytes, isYAML: isYAML, path: path) } catch {
            switch error {
            case .notUTF8: throw .cannotRead(path: path, reason: "not UTF-8 text")
            case .syntax(let line, let column, let message): throw .syntax(path: path, line: line, column: column, message: message)
            }
        }
        let violations = document.violations(of: schema)
        guard violations.isEmpty else { throw .schema(path: path, violations: violations) }
        return try PlanDecoder(path: path).decode(document.value)
    }
}
