/// Errors loading or applying an architecture recipe (`Converters/*.json`).
public enum RecipeError: Error, CustomStringConvertible, Equatable {
    case cannotRead(path: String, reason: String)
    case invalidJSON(path: String, reason: String)
    case schemaViolation(path: String, violations: [String])
    /// `ResourceLocator` found no `Converters/` directory (the error lists where it looked).
    case resourceNotFound(ResourceError)
    case unknownArchitecture(String, known: [String])
    case undefinedSymbol(recipe: String, symbol: String, expression: String)
    case invalidExpression(recipe: String, expression: String)

    public var description: String {
        switch self {
        case .cannotRead(let p, let r): return "\(p): cannot read recipe: \(r)"
        case .invalidJSON(let p, let r): return "\(p): recipe is not valid JSON: \(r)"
        case .schemaViolation(let p, let v):
            return "\(p): recipe does not match Schemas/recipe.schema.json:\n  " + v.joined(separator: "\n  ")
        case .resourceNotFound(let error):
            return error.description
        case .unknownArchitecture(let a, let known):
            return "no recipe for architecture '\(a)' (recipes: \(known.joined(separator: ", ")))"
        case .undefinedSymbol(let r, let s, let e):
            return "recipe '\(r)': expression '\(e)' uses '\(s)', which is neither a config field nor a derived value"
        case .invalidExpression(let r, let e): return "recipe '\(r)': invalid dimension expression '\(e)'"
        }
    }
}
