import CPlatform
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A data directory written atomically: everything goes to `.NAME.tmp-PID` next to it, which `commit()` renames
/// into place (replacing an existing directory only when forced, and never one that holds an input).
final class OutputDirectory {
    let path: String
    let temporaryPath: String
    let force: Bool
    private var committed = false

    init(path: String, force: Bool, inputs: [String]) throws(TrainingDataError) {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.path = trimmed
        self.force = force
        let slash = trimmed.lastIndex(of: "/")
        let parent = slash.map { String(trimmed[..<$0]) } ?? "."
        let name = slash.map { String(trimmed[trimmed.index(after: $0)...]) } ?? trimmed
        temporaryPath = (parent.isEmpty ? "" : parent + "/") + ".\(name).tmp-\(getpid())"
        if FileManager.default.fileExists(atPath: trimmed) {
            guard force else { throw .outputExists(path: trimmed) }
            let root = Self.resolved(trimmed) + "/"
            for input in inputs where Self.resolved(input).hasPrefix(root) {
                throw .outputContainsInput(output: trimmed, input: input)
            }
        }
        try? FileManager.default.removeItem(atPath: temporaryPath)
        do {
            try FileManager.default.createDirectory(atPath: temporaryPath, withIntermediateDirectories: false)
        } catch {
            throw .writeFailed(path: temporaryPath, reason: "cannot create the temporary directory: \(error.localizedDescription)")
        }
    }

    /// Renames the temporary directory to the output.
    func commit() throws(TrainingDataError) {
        // One barrier for every file of the directory, before it becomes visible under its name.
        let directory = open(temporaryPath, O_RDONLY)
        guard directory >= 0, moekit_syncfs(directory) == 0 else {
            let reason = String(cString: strerror(errno))
            if directory >= 0 { close(directory) }
            throw .writeFailed(path: temporaryPath, reason: "cannot flush: \(reason)")
        }
        close(directory)
        var old: String?
        if FileManager.default.fileExists(atPath: path) {
            let aside = temporaryPath.replacingOccurrences(of: ".tmp-", with: ".old-")
            guard rename(path, aside) == 0 else {
                throw .writeFailed(path: path, reason: "cannot move the old directory aside: \(String(cString: strerror(errno)))")
            }
            old = aside
        }
        guard rename(temporaryPath, path) == 0 else {
            let reason = String(cString: strerror(errno))
            if let old { rename(old, path) }
            throw .writeFailed(path: path, reason: "cannot move the output into place: \(reason)")
        }
        committed = true
        if let old { try? FileManager.default.removeItem(atPath: old) }
    }

    /// Removes the temporary directory unless committed.
    func discard() {
        guard !committed else { return }
        try? FileManager.default.removeItem(atPath: temporaryPath)
    }

    static func resolved(_ path: String) -> String {
        guard let real = realpath(path, nil) else { return path }
        defer { free(real) }
        return String(cString: real)
    }
}
