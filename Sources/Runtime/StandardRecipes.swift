import Conversion
import Synchronization

/// The recipe library of the default `Converters/` directory, read once per process for callers that parse a
/// config.json without naming a library (`ModelConfig(json:)`).
enum StandardRecipes {
    private static let cache = Mutex<RecipeLibrary?>(nil)

    /// The standard library (`RecipeLibrary.standard()`), loaded on first use.
    static func library() throws -> RecipeLibrary {
        try cache.withLock { cached in
            if let cached { return cached }
            let library = try RecipeLibrary.standard()
            cached = library
            return library
        }
    }
}
