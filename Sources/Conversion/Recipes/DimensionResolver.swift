/// Evaluates the dimension expressions of a recipe (`hidden_size`, `num_attention_heads*head_dim`,
/// `hidden_size/num_attention_heads`) against a model's configuration values.
///
/// The values come from a file (`config.json`, GGUF metadata), so evaluation is checked: a negative term, a
/// division by zero or with a remainder and an overflowing product are `RecipeError.invalidDimension` errors that
/// name `source`, the expression and the field values that made it invalid — never a trap.
public struct DimensionResolver: Sendable {
    /// Known integer values: config fields and derived dimensions.
    public var values: [String: Int]
    let recipeName: String
    /// The file the values were read from (a `config.json`, a GGUF file), named in errors; nil when there is none.
    public var source: String?

    /// - Parameters:
    ///   - values: config fields (and derived dimensions) by name.
    ///   - recipeName: the recipe whose expressions are evaluated, named in errors.
    ///   - source: the file the values were read from, named in errors.
    public init(values: [String: Int], recipeName: String, source: String? = nil) {
        self.values = values
        self.recipeName = recipeName
        self.source = source
    }

    /// Evaluates `expression` (names and integers joined by `*` and `/`, left to right).
    /// `tensor:NAME:i` terms are not resolved here (callers handle them first) and raise `undefinedSymbol`.
    /// - Throws: `RecipeError.undefinedSymbol` for a name that is neither a value nor a literal,
    ///   `RecipeError.invalidDimension` (naming `source` and the values used) for a negative term, a division by zero
    ///   or with a remainder, or an overflow; `RecipeError.invalidExpression` for a malformed expression.
    public func evaluate(_ expression: String) throws(RecipeError) -> Int {
        try evaluate(expression, dimension: nil)
    }

    private func evaluate(_ expression: String, dimension: String?) throws(RecipeError) -> Int {
        var result = 0
        var pendingOperator: Character? = nil
        var token = ""
        var used: [String] = []
        func invalid(_ problem: String) -> RecipeError {
            .invalidDimension(
                recipe: recipeName, source: source, dimension: dimension, expression: expression, values: used, problem: problem)
        }
        func apply(_ term: String) throws(RecipeError) {
            let value: Int
            if let literal = Int(term) {
                value = literal
            } else if let known = values[term] {
                value = known
                used.append("\(term) = \(known)")
            } else {
                throw .undefinedSymbol(recipe: recipeName, symbol: term, expression: expression, source: source)
            }
            guard value >= 0 else { throw invalid("'\(term)' is negative") }
            switch pendingOperator {
            case nil: result = value
            case "*":
                let (product, overflow) = result.multipliedReportingOverflow(by: value)
                guard !overflow else { throw invalid("the product overflows a 64-bit integer") }
                result = product
            case "/":
                guard value != 0 else { throw invalid("division by zero ('\(term)' is 0)") }
                guard result % value == 0 else { throw invalid("\(result) is not divisible by \(value)") }
                result /= value
            default: throw .invalidExpression(recipe: recipeName, expression: expression)
            }
        }
        for character in expression {
            if character == "*" || character == "/" {
                guard !token.isEmpty else { throw .invalidExpression(recipe: recipeName, expression: expression) }
                try apply(token)
                token = ""
                pendingOperator = character
            } else {
                token.append(character)
            }
        }
        guard !token.isEmpty else { throw .invalidExpression(recipe: recipeName, expression: expression) }
        try apply(token)
        return result
    }

    /// Adds the recipe's derived dimensions in declaration order.
    /// - Throws: as `evaluate(_:)`, the error naming the derived dimension.
    public mutating func addDerived(_ derived: [(name: String, expression: String)]) throws(RecipeError) {
        for (name, expression) in derived where values[name] == nil {
            values[name] = try evaluate(expression, dimension: name)
        }
    }
}
