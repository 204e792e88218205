#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why an output was refused before anything was written.
public enum OutputSafetyError: Error, CustomStringConvertible, Equatable {
    /// The output names the input itself (same path, a symbolic link to it, or a hard link: same device and inode).
    case outputIsInput(output: String, input: String)
    /// The output would be written inside the input directory.
    case outputInsideInput(output: String, input: String)
    /// The output is a directory that contains the input (replacing it would delete the input).
    case outputContainsInput(output: String, input: String)
    /// The output exists and `--force` was not given.
    case outputExists(path: String)
    /// An input is not a regular file (a FIFO, a device, a socket, or a directory where a file is expected).
    case notRegularFile(path: String, kind: String)
    /// The file system holding the output has less free space than the output needs.
    case insufficientSpace(path: String, needed: Int, available: Int)

    public var description: String {
        switch self {
        case .outputIsInput(let output, let input):
            return "\(output): the output is the input \(input) (same file); choose another output path"
        case .outputInsideInput(let output, let input):
            return "\(output): the output lies inside the input \(input); choose a path outside it"
        case .outputContainsInput(let output, let input):
            return "\(output): the output contains the input \(input); replacing it would delete the input"
        case .outputExists(let path):
            return "\(path): the output already exists; pass --force to replace it"
        case .notRegularFile(let path, let kind):
            return "\(path): expected a regular file, found \(kind)"
        case .insufficientSpace(let path, let needed, let available):
            return "\(path): the output needs \(needed) bytes but its file system has \(available) bytes free"
        }
    }
}

/// Checks that protect a user's files before a writer starts: an output never overwrites or lies inside an input,
/// an existing output is replaced only when asked, inputs are regular files, and the output fits on its disk.
public enum OutputSafety {
    /// A file's identity: device and inode (two paths to one file, through symbolic or hard links, share it).
    struct Identity: Hashable {
        let device: UInt64
        let inode: UInt64
    }

    /// The identity of what `path` names, following symbolic links; nil when it does not exist.
    static func identity(_ path: String) -> Identity? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return Identity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
    }

    /// The identities of the directories above `path` (after resolving symbolic links), nearest first. For a path
    /// that does not exist yet, the chain starts at its nearest existing ancestor.
    static func ancestors(of path: String) -> [Identity] {
        var current = path
        // Climb to the nearest existing ancestor when `path` does not exist.
        while identity(current) == nil {
            let parent = TemporaryPaths.directory(of: current)
            if parent == current { break }
            current = parent
            if identity(current) != nil { return chain(from: current, includingSelf: true) }
        }
        return chain(from: current, includingSelf: false)
    }

    private static func chain(from path: String, includingSelf: Bool) -> [Identity] {
        guard let resolved = realpath(path, nil) else { return [] }
        var current = String(cString: resolved)
        free(resolved)
        var result: [Identity] = []
        if includingSelf, let id = identity(current) { result.append(id) }
        while current != "/" {
            current = TemporaryPaths.directory(of: current)
            if let id = identity(current) { result.append(id) }
        }
        return result
    }

    /// Refuses an `output` that is one of `inputs` (by device and inode, so symbolic and hard links count), lies
    /// inside an input directory, or is a directory containing an input.
    /// - Throws: `OutputSafetyError.outputIsInput`, `.outputInsideInput`, `.outputContainsInput`.
    public static func checkSeparate(output: String, inputs: [String]) throws(OutputSafetyError) {
        let outputIdentity = identity(output)
        let outputAncestors = Set(ancestors(of: output))
        for input in inputs {
            guard let inputIdentity = identity(input) else { continue }
            if outputIdentity == inputIdentity { throw .outputIsInput(output: output, input: input) }
            if outputAncestors.contains(inputIdentity) { throw .outputInsideInput(output: output, input: input) }
            if let outputIdentity, ancestors(of: input).contains(outputIdentity) {
                throw .outputContainsInput(output: output, input: input)
            }
        }
    }

    /// Refuses to replace an existing `output` unless `force`. An empty directory holds nothing to lose and is
    /// accepted as the destination of a directory output.
    /// - Throws: `OutputSafetyError.outputExists`.
    public static func checkReplaceable(output: String, force: Bool, directoryOutput: Bool) throws(OutputSafetyError) {
        guard !force else { return }
        var status = stat()
        guard lstat(output, &status) == 0 else { return }
        if directoryOutput, (status.st_mode & S_IFMT) == S_IFDIR, isEmptyDirectory(output) { return }
        throw .outputExists(path: output)
    }

    /// Whether `path` is a directory with no entries.
    package static func isEmptyDirectory(_ path: String) -> Bool {
        guard let handle = opendir(path) else { return false }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { return false }
        }
        return true
    }

    /// Refuses an input path that exists but is not a regular file, without opening it (a FIFO would block).
    /// A missing path passes: the reader reports it with its own wording.
    /// - Throws: `OutputSafetyError.notRegularFile`.
    public static func checkRegularFile(_ path: String) throws(OutputSafetyError) {
        var status = stat()
        guard stat(path, &status) == 0 else { return }
        let kind = fileKind(status.st_mode)
        guard kind == nil else { throw .notRegularFile(path: path, kind: kind!) }
    }

    /// nil for a regular file, else a description of what the mode says the file is.
    public static func fileKind(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        default: return "a special file"
        }
    }

    /// Bytes available to this user on the file system that will hold `output` (its nearest existing ancestor).
    public static func availableBytes(for output: String) -> Int? {
        var current = TemporaryPaths.directory(of: output)
        while identity(current) == nil {
            let parent = TemporaryPaths.directory(of: current)
            if parent == current { return nil }
            current = parent
        }
        var info = statvfs()
        guard statvfs(current, &info) == 0 else { return nil }
        let (bytes, overflow) = Int(info.f_bavail).multipliedReportingOverflow(by: Int(info.f_frsize))
        return overflow ? Int.max : bytes
    }

    /// Refuses an output of `bytes` bytes when its file system has less free space (the replaced output, if any, is
    /// deleted only after the new one is complete, so it does not count as free).
    /// - Throws: `OutputSafetyError.insufficientSpace`.
    public static func checkFreeSpace(bytes: Int, for output: String) throws(OutputSafetyError) {
        guard let available = availableBytes(for: output), bytes > available else { return }
        throw .insufficientSpace(path: output, needed: bytes, available: available)
    }
}
