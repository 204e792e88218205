import IOCore
/// Errors loading or applying an architecture recipe (`Converters/*.json`).
public enum RecipeError: Error, CustomStringConvertible, Equatable {
    case cannotRead(path: String, reason: String)
    case invalidJSON(path: String, reason: String)
    case schemaViolation(path: String, violations: [String])
    /// `ResourceLocator` found no `Converters/` directory (the error lists where it looked).
    case resourceNotFound(ResourceError)
    case unknownArchitecture(String, known: [String])
    /// `expression` uses `symbol`, which `source` (a config file, a GGUF file; nil when none) does not define.
    case undefinedSymbol(recipe: String, symbol: String, expression: String, source: String?)
    /// A malformed dimension expression in the recipe itself.
    case invalidExpression(recipe: String, expression: String)
    /// A well-formed expression that the values read from `source` cannot satisfy (a negative value, a division by
    /// zero or with a remainder, an overflow). `dimension` is the derived dimension being computed, if any;
    /// `values` lists the fields the expression used as `name = value`.
    case invalidDimension(recipe: String, source: String?, dimension: String?, expression: String, values: [String], problem: String)
    /// The recipe's `remote_code` (`field`) names a missing or misplaced file, or an `auto_map` module it lacks.
    case invalidRemoteCode(path: String, field: String, problem: String)

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
        case .undefinedSymbol(let r, let s, let e, let source):
            return (source.map { "\($0): " } ?? "")
                + "recipe '\(r)': expression '\(e)' uses '\(s)', which is neither a config field nor a derived value"
        case .invalidDimension(let r, let source, let dimension, let e, let values, let problem):
            let subject = dimension.map { "dimension '\($0) = \(e)'" } ?? "dimension expression '\(e)'"
            let given = values.isEmpty ? "" : " with \(values.joined(separator: ", "))"
            return (source.map { "\($0): " } ?? "") + "recipe '\(r)': \(subject) is invalid\(given): \(problem)"
                + "; expected positive integers that divide evenly"
        case .invalidExpression(let r, let e): return "recipe '\(r)': invalid dimension expression '\(e)'"
        case .invalidRemoteCode(let p, let field, let problem): return "\(p): \(field): \(problem)"
        }
    }
}
