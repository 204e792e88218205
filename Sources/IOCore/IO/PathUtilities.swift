import Foundation
import TensorCore

/// Small file-system helpers shared by readers and writers.
public enum PathUtilities {
    /// Whether `path` names an existing directory.
    public static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    /// Whether `path` exists (file or directory).
    public static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// `directory/name`.
    public static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// Reads a whole (small) file.
    public static func readBytes(_ path: String) throws -> [UInt8] {
        let file = try MappedFile(path: path)
        return Array(file.bytes)
    }

    /// Creates `path` and its parents if needed (mkdir -p).
    /// - Throws: `FileWriteError.cannotCreate` naming the component that could not be created and why (strerror),
    ///   such as a regular file where a directory is needed.
    public static func createDirectory(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
            if mkdir(prefix, 0o755) == 0 { continue }
            let code = errno
            if code == EEXIST, isDirectory(prefix) { continue }
            let reason = code == EEXIST ? "it exists and is not a directory" : String(cString: strerror(code))
            throw FileWriteError.cannotCreate(path: path, reason: prefix == path ? reason : "\(prefix): \(reason)")
        }
    }
}
