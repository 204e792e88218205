import Foundation

/// A data directory moekit ships beside its binary: recipes, task files or JSON Schemas.
public enum MoekitResource: String, Sendable, CaseIterable {
    /// `Converters/`: architecture recipes and the pre-tokenizer table.
    case converters = "Converters"
    /// `Tasks/`: built-in evaluation task files and their data samples.
    case tasks = "Tasks"
    /// `Schemas/`: JSON Schemas of every file moekit reads or writes.
    case schemas = "Schemas"

    /// A file every copy of the directory holds; a same-named folder without it is not taken for moekit's.
    public var marker: String {
        switch self {
        case .converters: return "llama.json"
        case .tasks: return "piqa.json"
        case .schemas: return "task.schema.json"
        }
    }

    /// The directory's own environment variable, kept from earlier releases (`MOEKIT_CONVERTERS`, `MOEKIT_TASKS`,
    /// `MOEKIT_SCHEMAS`).
    public var environmentVariable: String { "MOEKIT_" + rawValue.uppercased() }
}

/// Where a resource directory was looked for and what was found.
public struct ResourceSearch: Sendable, Equatable {
    /// The resource.
    public var resource: MoekitResource
    /// Every candidate, in search order, with where it came from (`--recipes`, `$MOEKIT_RESOURCES`, executable, …).
    public var candidates: [(path: String, origin: String)]
    /// The first usable candidate, if any.
    public var found: String?

    public static func == (a: ResourceSearch, b: ResourceSearch) -> Bool {
        a.resource == b.resource && a.found == b.found && a.candidates.map(\.path) == b.candidates.map(\.path)
            && a.candidates.map(\.origin) == b.candidates.map(\.origin)
    }
}

/// The one search order for `Converters/`, `Tasks/` and `Schemas/`:
///
/// 1. the command's flag (`--recipes DIR`, `--task-dir` adds to the built-in tasks rather than replacing them);
/// 2. the directory's own variable (`$MOEKIT_CONVERTERS`, `$MOEKIT_TASKS`, `$MOEKIT_SCHEMAS`), then
///    `$MOEKIT_RESOURCES/<Name>` (one variable for a directory holding all three);
/// 3. beside the executable (symbolic links resolved, via `/proc/self/exe`) and in each of its parents:
///    `DIR/<Name>`, then `DIR/share/moekit/<Name>`, so `.build/release/moekit` finds the repository's directories
///    and `PREFIX/bin/moekit` finds `PREFIX/share/moekit/<Name>` (what `scripts/install.sh PREFIX` installs).
///
/// A flag or variable must name an existing directory; the executable-relative candidates must also hold the
/// resource's marker file (`llama.json`, `piqa.json`, `task.schema.json`).
public enum ResourceLocator {
    /// Ancestors of the executable's directory searched (the directory itself included).
    static let ancestorLevels = 6

    /// The executable's real path: `/proc/self/exe` where available (right however the binary was started: by
    /// PATH lookup, through a symbolic link, from another directory), else `argv[0]` resolved.
    public static var executablePath: String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"), path.hasPrefix("/") {
            return path
        }
        return URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().path
    }

    /// The candidates for `resource` in search order, and the first usable one.
    /// - Parameters:
    ///   - resource: which directory.
    ///   - explicit: the command's flag value, if given.
    ///   - flag: the flag's spelling, for the origin text.
    ///   - environment: the process environment (injectable for tests).
    ///   - executable: the executable path (injectable for tests).
    public static func search(
        _ resource: MoekitResource, explicit: String? = nil, flag: String = "flag",
        environment: [String: String] = ProcessInfo.processInfo.environment, executable: String = executablePath
    ) -> ResourceSearch {
        var candidates: [(path: String, origin: String)] = []
        var found: String?
        func consider(_ path: String, _ origin: String, needsMarker: Bool) {
            candidates.append((path, origin))
            guard found == nil, PathUtilities.isDirectory(path) else { return }
            if !needsMarker || PathUtilities.exists(PathUtilities.join(path, resource.marker)) { found = path }
        }
        if let explicit { consider(explicit, flag, needsMarker: false) }
        if let value = environment[resource.environmentVariable], !value.isEmpty {
            consider(value, "$" + resource.environmentVariable, needsMarker: false)
        }
        if let value = environment["MOEKIT_RESOURCES"], !value.isEmpty {
            consider(PathUtilities.join(value, resource.rawValue), "$MOEKIT_RESOURCES", needsMarker: false)
        }
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        for _ in 0..<ancestorLevels {
            consider(directory.appendingPathComponent(resource.rawValue).path, "executable", needsMarker: true)
            consider(directory.appendingPathComponent("share/moekit/" + resource.rawValue).path, "install prefix", needsMarker: true)
            if directory.path == "/" { break }
            directory.deleteLastPathComponent()
        }
        return ResourceSearch(resource: resource, candidates: candidates, found: found)
    }

    /// The directory for `resource` by the documented search order.
    /// - Throws: `ResourceError.notFound` listing every candidate once, in order.
    public static func locate(
        _ resource: MoekitResource, explicit: String? = nil, flag: String = "flag"
    ) throws(ResourceError) -> String {
        let result = search(resource, explicit: explicit, flag: flag)
        guard let found = result.found else { throw .notFound(result) }
        return found
    }
}

/// A resource directory could not be found.
public enum ResourceError: Error, CustomStringConvertible, Equatable, Sendable {
    /// No candidate of the search was usable.
    case notFound(ResourceSearch)

    public var description: String {
        switch self {
        case .notFound(let search):
            let name = search.resource.rawValue
            var seen = Set<String>()
            let list = search.candidates.filter { seen.insert($0.path).inserted }.map { "\($0.path) (\($0.origin))" }
            return "cannot find moekit's \(name)/ directory; searched, in order: \(list.joined(separator: ", ")). "
                + "Set MOEKIT_RESOURCES to a directory holding Converters/, Tasks/ and Schemas/, or install with "
                + "scripts/install.sh PREFIX (binary in PREFIX/bin, data in PREFIX/share/moekit)"
        }
    }
}
