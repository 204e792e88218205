import IOCore
/// llama.cpp pre-tokenizer names (`tokenizer.ggml.pre`) and the tokenizer.json `pre_tokenizer` objects they stand
/// for, loaded from `Converters/tokenizers/pre-tokenizers.json`.
public struct PreTokenizerTable: Sendable {
    /// Entries in file order (the first structural match wins when reading tokenizer.json).
    public let entries: [(name: String, preTokenizer: JSONValue)]

    public init(entries: [(name: String, preTokenizer: JSONValue)]) { self.entries = entries }

    /// Loads and schema-checks the table in `convertersDirectory/tokenizers/pre-tokenizers.json`.
    public init(convertersDirectory: String) throws(RecipeError) {
        let path = convertersDirectory + "/tokenizers/pre-tokenizers.json"
        let json = try RecipeLibrary.readJSON(path)
        let schemaPath = RecipeLibrary.schemaDirectory(besides: convertersDirectory) + "/pre-tokenizers.schema.json"
        let violations = JSONSchemaValidator(schema: try RecipeLibrary.readJSON(schemaPath)).validate(json)
        guard violations.isEmpty else { throw .schemaViolation(path: path, violations: violations.map(\.description)) }
        entries = json["pre_tokenizers"]!.objectValue!.pairs.map { ($0.key, $0.value) }
    }

    /// The pre_tokenizer object for a llama.cpp name (falls back to `default`).
    public func preTokenizer(named name: String?) -> JSONValue? {
        if let name, let hit = entries.first(where: { $0.name == name }) { return hit.preTokenizer }
        return entries.first(where: { $0.name == "default" })?.preTokenizer
    }

    /// The llama.cpp name whose object equals `preTokenizer`, if any.
    public func name(matching preTokenizer: JSONValue) -> String? {
        entries.first(where: { $0.preTokenizer == preTokenizer })?.name
    }
}
