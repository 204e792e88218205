import Foundation

/// Resolves a Hugging Face model id (`org/name`) to a snapshot directory of the local Hugging Face hub cache,
/// offline, as `huggingface_hub` lays it out: `<hub>/models--org--name/snapshots/<commit>/`, where `refs/main`
/// holds the commit the `main` branch pointed at when it was downloaded.
///
/// The hub directory is `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else
/// `~/.cache/huggingface/hub` (huggingface_hub's own order).
public enum HuggingFaceCache {
    /// Whether `text` has the shape of a hub model id (`org/name`: two non-empty parts of letters, digits, `-`,
    /// `_`, `.`, not starting with `.`).
    public static func isModelID(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.first != "." && part.unicodeScalars.allSatisfy {
                ($0.isASCII && (CharacterSet.alphanumerics.contains($0))) || $0 == "-" || $0 == "_" || $0 == "."
            }
        }
    }

    /// The hub cache directories to search, in order (the first set variable wins; the home default is always
    /// listed last so the error names it).
    public static func hubDirectories(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var result: [String] = []
        if let v = environment["HF_HUB_CACHE"], !v.isEmpty { result.append(v) }
        if let v = environment["HF_HOME"], !v.isEmpty { result.append(PathUtilities.join(v, "hub")) }
        if let v = environment["XDG_CACHE_HOME"], !v.isEmpty { result.append(PathUtilities.join(v, "huggingface/hub")) }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        result.append(PathUtilities.join(home, ".cache/huggingface/hub"))
        var seen = Set<String>()
        return result.filter { seen.insert($0).inserted }
    }

    /// The snapshot directory of `id`.
    /// - Parameters:
    ///   - id: `org/name`.
    ///   - environment: the process environment (injectable for tests).
    /// - Throws: `HuggingFaceCacheError.notCached` listing every directory looked in, or `.ambiguousSnapshot` when
    ///   there is no `refs/main` and several snapshots.
    public static func resolve(_ id: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(HuggingFaceCacheError) -> String
    {
        let folder = "models--" + id.replacingOccurrences(of: "/", with: "--")
        var looked: [String] = []
        for hub in hubDirectories(environment: environment) {
            let repo = PathUtilities.join(hub, folder)
            let snapshots = PathUtilities.join(repo, "snapshots")
            if let ref = try? String(contentsOfFile: PathUtilities.join(repo, "refs/main"), encoding: .utf8) {
                let commit = ref.trimmingCharacters(in: .whitespacesAndNewlines)
                let path = PathUtilities.join(snapshots, commit)
                if !commit.isEmpty, !commit.contains("/"), PathUtilities.isDirectory(path) { return path }
                looked.append(path + " (from refs/main)")
                continue
            }
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: snapshots)) ?? [])
                .filter { PathUtilities.isDirectory(PathUtilities.join(snapshots, $0)) }.sorted()
            if names.count == 1 { return PathUtilities.join(snapshots, names[0]) }
            if names.count > 1 { throw .ambiguousSnapshot(id: id, directory: snapshots, snapshots: names) }
            looked.append(snapshots)
        }
        throw .notCached(id: id, looked: looked)
    }
}

/// A Hugging Face model id that the local cache cannot supply.
public enum HuggingFaceCacheError: Error, CustomStringConvertible, Equatable, Sendable {
    /// No snapshot of `id` in any hub cache directory.
    case notCached(id: String, looked: [String])
    /// No `refs/main` and more than one snapshot to choose from.
    case ambiguousSnapshot(id: String, directory: String, snapshots: [String])

    public var description: String {
        switch self {
        case .notCached(let id, let looked):
            return "\(id): no such file, and not in the local Hugging Face cache (moekit does not download); looked in "
                + looked.joined(separator: ", ")
                + " (set HF_HUB_CACHE or HF_HOME, or download it with `huggingface-cli download \(id)`)"
        case .ambiguousSnapshot(let id, let directory, let snapshots):
            return "\(id): \(directory) holds \(snapshots.count) snapshots (\(snapshots.joined(separator: ", "))) and no refs/main; "
                + "pass the snapshot directory itself"
        }
    }
}
