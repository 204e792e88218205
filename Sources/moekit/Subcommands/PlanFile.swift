import Conversion
import IOCore
import Transforms

/// Locates `Schemas/plan.schema.json` beside the recipes and reads a plan file with it.
enum PlanFile {
    /// Reads and validates the plan at `path`.
    /// - Throws: `PlanError` (file, field, expected) or `RecipeError` when the schema is missing.
    static func read(_ path: String, convertersDirectory: String) throws -> ConversionPlan {
        let schemaPath = RecipeLibrary.schemaDirectory(besides: convertersDirectory) + "/plan.schema.json"
        let schema: JSONValue
        do {
            schema = try JSONParser.parse(try PathUtilities.readBytes(schemaPath))
        } catch {
            throw PlanError.cannotRead(path: schemaPath, reason: "plan schema: \(error)")
        }
        return try PlanReader.read(path: path, schema: schema)
    }
}
