import CPlatform

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The temporary paths writers create beside their destination: `.<name>.tmp-<pid>` while an output is being built,
/// `.<name>.old-<pid>` while a replaced output waits for removal. The process id in the name lets a later run tell
/// the leftovers of a dead process (killed with SIGKILL, power loss) from those of a run still going.
public enum TemporaryPaths {
    /// `directory/.<name>.tmp-<pid>` for `destination` (`directory/name`).
    public static func temporary(for destination: String) -> String { sibling(of: destination, suffix: "tmp") }

    /// `directory/.<name>.old-<pid>` for `destination`: where a replaced output is moved before it is deleted.
    public static func replaced(for destination: String) -> String { sibling(of: destination, suffix: "old") }

    private static func sibling(of destination: String, suffix: String) -> String {
        let (directory, name) = split(destination)
        return (directory.isEmpty ? "" : directory + "/") + ".\(name).\(suffix)-\(getpid())"
    }

    /// `(directory, last component)` of a path; the directory is empty for a bare name, `/` stays `/`.
    static func split(_ path: String) -> (directory: String, name: String) {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return ("", String(trimmed)) }
        let directory = slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
        return (directory, String(trimmed[trimmed.index(after: slash)...]))
    }

    /// The directory an output at `path` lives in (`.` for a bare name).
    public static func directory(of path: String) -> String {
        let directory = split(path).directory
        return directory.isEmpty ? "." : directory
    }

    /// Registers `path` for removal if the process receives SIGINT, SIGTERM or SIGHUP (see `moekit_temp_register`).
    /// Returns a token for `unregister`.
    public static func registerForInterruptCleanup(_ path: String) -> Int32 { moekit_temp_register(path) }

    /// Forgets a path registered with `registerForInterruptCleanup`.
    public static func unregister(_ token: Int32) { moekit_temp_unregister(token) }

    /// The process id in a writer's temporary name (`.<name>.tmp-<pid>` or `.<name>.old-<pid>`), else nil.
    public static func ownerProcess(ofTemporaryName name: String) -> pid_t? {
        guard name.hasPrefix("."), let dash = name.lastIndex(of: "-") else { return nil }
        let digits = name[name.index(after: dash)...]
        let stem = name[..<dash]
        guard !digits.isEmpty, digits.count <= 10, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            stem.hasSuffix(".tmp") || stem.hasSuffix(".old"), stem.count > 5, let pid = pid_t(digits), pid > 0
        else { return nil }
        return pid
    }

    /// Whether process `pid` exists (a process of another user counts as existing).
    static func isAlive(_ pid: pid_t) -> Bool { kill(pid, 0) == 0 || errno == EPERM }

    /// Removes the temporary files and directories that runs of dead processes left in `directory` (names as
    /// `temporary(for:)` and `replaced(for:)` make them, for any destination name). Entries of live processes,
    /// including this one, are kept, and so is anything that does not look like a writer's (`looksLikeWriterOutput`),
    /// in case another program uses the same naming. Errors are ignored: cleaning is best effort.
    /// - Returns: the names removed.
    @discardableResult
    public static func removeStale(in directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            names.append(name)
        }
        closedir(handle)
        var removed: [String] = []
        for name in names {
            guard let pid = ownerProcess(ofTemporaryName: name), pid != getpid(), !isAlive(pid) else { continue }
            let path = (directory.hasSuffix("/") ? directory : directory + "/") + name
            guard looksLikeWriterOutput(path) else { continue }
            removeTree(path)
            removed.append(name)
        }
        return removed
    }

    /// Whether `path` is what a writer leaves: a file that is empty or starts like a GGUF file (`GGUF`), a
    /// safetensors file (8-byte header length, then `{`) or JSON (`{`); or a directory of files only (an HF output
    /// being built, or one replaced by `--force`).
    static func looksLikeWriterOutput(_ path: String) -> Bool {
        var status = stat()
        guard lstat(path, &status) == 0 else { return false }
        switch status.st_mode & S_IFMT {
        case S_IFREG:
            let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            var head = [UInt8](repeating: 0, count: 9)
            let count = head.withUnsafeMutableBytes { read(fd, $0.baseAddress, 9) }
            guard count >= 0 else { return false }
            if count == 0 { return true }
            if count >= 4, head[0..<4] == [0x47, 0x47, 0x55, 0x46] { return true }  // "GGUF"
            if head[0] == UInt8(ascii: "{") { return true }
            return count == 9 && head[8] == UInt8(ascii: "{")
        case S_IFDIR:
            guard let handle = opendir(path) else { return false }
            defer { closedir(handle) }
            while let entry = readdir(handle) {
                let name = withUnsafePointer(to: entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name == "." || name == ".." { continue }
                var child = stat()
                guard lstat(path + "/" + name, &child) == 0, (child.st_mode & S_IFMT) == S_IFREG else { return false }
            }
            return true
        default:
            return false
        }
    }

    /// Removes a file or a directory tree without following symbolic links.
    public static func removeTree(_ path: String) {
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        if (status.st_mode & S_IFMT) == S_IFDIR {
            if let handle = opendir(path) {
                var children: [String] = []
                while let entry = readdir(handle) {
                    let name = withUnsafePointer(to: entry.pointee.d_name) {
                        $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                    }
                    if name != "." && name != ".." { children.append(name) }
                }
                closedir(handle)
                for child in children { removeTree(path + "/" + child) }
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}
