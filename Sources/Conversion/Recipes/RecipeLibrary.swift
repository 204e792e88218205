import Formats
import Foundation
import IOCore

/// The set of architecture recipes found in a `Converters/` directory.
public struct RecipeLibrary: Sendable {
    /// Directory the recipes were read from.
    public let directory: String
    /// Recipes by name.
    public let recipes: [String: ArchitectureRecipe]

    /// Finds the `Converters/` directory by `ResourceLocator`'s search order: `explicit` (`--recipes DIR`),
    /// `$MOEKIT_CONVERTERS`, `$MOEKIT_RESOURCES/Converters`, then beside the executable or in a parent, directly or
    /// under `share/moekit/`.
    /// - Throws: `RecipeError.resourceNotFound` listing every place searched, once.
    public static func locateDirectory(explicit: String? = nil) throws(RecipeError) -> String {
        do { return try ResourceLocator.locate(.converters, explicit: explicit, flag: "--recipes") } catch {
            throw .resourceNotFound(error)
        }
    }

    /// The `Schemas/` directory for recipes read from `convertersDirectory`: the one beside it when that holds
    /// the schemas (repository and install layouts), else the one `ResourceLocator` finds.
    public static func schemaDirectory(besides convertersDirectory: String) -> String {
        let beside = URL(fileURLWithPath: convertersDirectory).deletingLastPathComponent().appendingPathComponent("Schemas").path
        if PathUtilities.exists(PathUtilities.join(beside, MoekitResource.schemas.marker)) { return beside }
        return (try? ResourceLocator.locate(.schemas)) ?? beside
    }

    /// Loads and validates every `*.json` recipe in `directory` against `Schemas/recipe.schema.json` (beside it), and
    /// checks the files of each recipe's `remote_code`.
    public init(directory: String) throws(RecipeError) {
        self.directory = directory
        let schemaPath = RecipeLibrary.schemaDirectory(besides: directory) + "/recipe.schema.json"
        let schema = try RecipeLibrary.readJSON(schemaPath)
        let validator = JSONSchemaValidator(schema: schema)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }.sorted()
        } catch {
            throw .cannotRead(path: directory, reason: "\(error)")
        }
        var recipes: [String: ArchitectureRecipe] = [:]
        for name in names {
            let path = PathUtilities.join(directory, name)
            let json = try RecipeLibrary.readJSON(path)
            let violations = validator.validate(json)
            guard violations.isEmpty else { throw .schemaViolation(path: path, violations: violations.map(\.description)) }
            let recipe = ArchitectureRecipe(json: json, sourcePath: path)
            try recipe.validateRemoteCode()
            recipes[recipe.name] = recipe
        }
        self.recipes = recipes
    }

    /// Loads the library from the located default directory.
    public static func standard(explicit: String? = nil) throws(RecipeError) -> RecipeLibrary {
        try RecipeLibrary(directory: locateDirectory(explicit: explicit))
    }

    /// The recipe for a GGUF `general.architecture` value.
    /// Without metadata, the recipe of that architecture that requires no keys (the plain one) is preferred.
    public func recipe(ggufArchitecture: String) throws(RecipeError) -> ArchitectureRecipe {
        try recipe(ggufArchitecture: ggufArchitecture, hasKey: { _ in false })
    }

    /// The recipe for a GGUF file: among recipes of its architecture whose `requires_keys` are all present, the one
    /// requiring the most keys (ties by name).
    public func recipe(ggufArchitecture: String, metadata: GGUFMetadata) throws(RecipeError) -> ArchitectureRecipe {
        try recipe(ggufArchitecture: ggufArchitecture, hasKey: { metadata.contains($0) })
    }

    private func recipe(ggufArchitecture: String, hasKey: (String) -> Bool) throws(RecipeError) -> ArchitectureRecipe {
        let candidates = recipes.values.filter { $0.ggufArchitecture == ggufArchitecture && $0.ggufClaimsFiles }
            .filter { recipe in recipe.ggufRequiresKeys.allSatisfy { hasKey(recipe.ggufKey($0)) } }
            .sorted { ($0.ggufRequiresKeys.count, $1.name) > ($1.ggufRequiresKeys.count, $0.name) }
        if let match = candidates.first { return match }
        throw .unknownArchitecture(ggufArchitecture, known: recipes.keys.sorted())
    }

    /// The recipe for an HF `config.json` (by `model_type`, then by `architectures`).
    public func recipe(hfConfig: JSONValue) throws(RecipeError) -> ArchitectureRecipe {
        let modelType = hfConfig["model_type"]?.stringValue
        if let modelType, let match = recipes.values.first(where: { $0.hfModelType == modelType }) { return match }
        let architectures = hfConfig["architectures"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if let match = recipes.values.first(where: { !Set($0.hfArchitectures).isDisjoint(with: architectures) }) {
            return match
        }
        throw .unknownArchitecture(modelType ?? architectures.first ?? "(no model_type)", known: recipes.keys.sorted())
    }

    /// Reads and parses a JSON file, mapping failures to `RecipeError`.
    static func readJSON(_ path: String) throws(RecipeError) -> JSONValue {
        let bytes: [UInt8]
        do { bytes = try PathUtilities.readBytes(path) } catch { throw .cannotRead(path: path, reason: "\(error)") }
        do { return try JSONParser.parse(bytes) } catch { throw .invalidJSON(path: path, reason: error.description) }
    }
}
