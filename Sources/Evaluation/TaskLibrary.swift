import Foundation
import IOCore

/// Finds and loads task files: the built-in `Tasks/` directory plus any user directories searched before it.
public struct TaskLibrary: Sendable {
    /// Directories searched for `<name>.json`, in order.
    public let directories: [String]
    /// `Schemas/task.schema.json`, parsed.
    public let schema: JSONValue

    /// A library over `directories` (searched in order), validating against the schema at `schemaPath`.
    /// - Throws: `EvaluationError.cannotRead` / `.invalidTaskJSON` when the schema cannot be read.
    public init(directories: [String], schemaPath: String) throws(EvaluationError) {
        self.directories = directories
        schema = try Self.readJSON(schemaPath)
    }

    /// The library a CLI run uses: `userDirectory` (`--task-dir`) first, then the built-in `Tasks/` found by
    /// `locateBuiltInDirectory()`. The schema is the bundled `Schemas/task.schema.json` (`ResourceLocator`), so a
    /// task directory anywhere validates without a `Schemas/` beside it.
    /// - Throws: `EvaluationError.resourceNotFound` when no built-in `Tasks/` is found and no `userDirectory` is
    ///   given, or when no `Schemas/` is found; `.cannotRead` for a `userDirectory` that is not a directory.
    public static func standard(userDirectory: String? = nil) throws(EvaluationError) -> TaskLibrary {
        var directories: [String] = []
        if let userDirectory {
            guard PathUtilities.isDirectory(userDirectory) else {
                throw .cannotRead(path: userDirectory, reason: "--task-dir: not a directory")
            }
            directories.append(userDirectory)
        }
        do {
            directories.append(try locateBuiltInDirectory())
        } catch {
            if userDirectory == nil { throw error }
        }
        let schemas: String
        do { schemas = try ResourceLocator.locate(.schemas) } catch { throw .resourceNotFound(error) }
        return try TaskLibrary(directories: directories, schemaPath: PathUtilities.join(schemas, "task.schema.json"))
    }

    /// Finds the built-in `Tasks/` directory by `ResourceLocator`'s search order: `$MOEKIT_TASKS`,
    /// `$MOEKIT_RESOURCES/Tasks`, then a `Tasks` folder holding `piqa.json` beside the executable or in a parent,
    /// directly or under `share/moekit/`.
    public static func locateBuiltInDirectory() throws(EvaluationError) -> String {
        do { return try ResourceLocator.locate(.tasks) } catch { throw .resourceNotFound(error) }
    }

    /// Names of every task file in the searched directories, sorted.
    public var taskNames: [String] {
        var names = Set<String>()
        for directory in directories {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            for file in files where file.hasSuffix(".json") { names.insert(String(file.dropLast(5))) }
        }
        return names.sorted()
    }

    /// Loads and validates the task called `name`.
    /// - Throws: `EvaluationError.unknownTask` when no directory has `<name>.json`; `.invalidTaskJSON`,
    ///   `.schemaViolation` (each violation names the field by JSON pointer) or `.invalidTask` for a bad file.
    ///
    /// A name no file carries is looked up among the tasks' `lm_eval_names` (lm-evaluation-harness's names for the
    /// same benchmark, e.g. `social_iqa` for `siqa`); the task is then reported under the name asked for.
    public func task(named name: String) throws(EvaluationError) -> TaskDefinition {
        let isPlainName = !name.isEmpty && !name.contains("/") && name != "." && name != ".."
        if isPlainName {
            for directory in directories {
                let path = PathUtilities.join(directory, name + ".json")
                if PathUtilities.exists(path) { return try load(path: path) }
            }
            for directory in directories {
                let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
                for file in files {
                    let path = PathUtilities.join(directory, file)
                    guard let json = try? Self.readJSON(path),
                          json["lm_eval_names"]?.arrayValue?.contains(.string(name)) == true
                    else { continue }
                    var task = try load(path: path)
                    if task.alias == task.name { task.alias = name }
                    task.name = name
                    return task
                }
            }
        }
        throw .unknownTask(name, known: taskNames)
    }

    /// Loads and validates the task file at `path`.
    public func load(path: String) throws(EvaluationError) -> TaskDefinition {
        let json = try Self.readJSON(path)
        let violations = JSONSchemaValidator(schema: schema).validate(json)
        guard violations.isEmpty else { throw .schemaViolation(path: path, violations: violations.map(\.description)) }
        return try TaskDefinition(json: json, path: path)
    }

    static func readJSON(_ path: String) throws(EvaluationError) -> JSONValue {
        let bytes: [UInt8]
        do { bytes = try PathUtilities.readBytes(path) } catch { throw .cannotRead(path: path, reason: "\(error)") }
        do { return try JSONParser.parse(bytes) } catch { throw .invalidTaskJSON(path: path, reason: error.description) }
    }
}
