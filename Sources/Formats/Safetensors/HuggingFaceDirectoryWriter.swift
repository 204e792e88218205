import CPlatform
import Foundation
import IOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a Hugging Face model directory — config, safetensors weights (sharded like huggingface_hub), tokenizer
/// side files, generation config, manifest — and commits it as a whole, so that a run killed at any moment leaves
/// either the previous state of the destination or the complete new directory, never a directory with files missing.
///
/// Everything is built in `.<name>.tmp-<pid>` beside the destination (registered for removal on SIGINT/SIGTERM),
/// flushed, and renamed into place. An existing destination is replaced only with `replaceExisting` (`--force`): the
/// two directories are exchanged atomically (renameat2 `RENAME_EXCHANGE`) and the old one is deleted only after the
/// new one is in place. Temporary paths left by dead processes in the destination's directory are removed first.
public struct HuggingFaceDirectoryWriter {
    /// A file of the directory other than the weights.
    public struct SideFile: Sendable {
        public let name: String
        public let bytes: [UInt8]

        public init(name: String, bytes: [UInt8]) {
            self.name = name
            self.bytes = bytes
        }

        /// A JSON file as transformers writes them (2-space indent, trailing newline).
        public init(name: String, json: JSONValue) {
            self.init(name: name, bytes: JSONWriter.bytes(json, indent: 2) + [0x0A])
        }
    }

    /// The directory to create or replace.
    public let destination: String
    /// Whether an existing destination may be replaced.
    public let replaceExisting: Bool

    public init(destination: String, replaceExisting: Bool = false) {
        self.destination = destination
        self.replaceExisting = replaceExisting
    }

    /// Refuses a destination that exists (and is not an empty directory) unless `replaceExisting`. Callers run this
    /// before long work; `write` runs it again.
    /// - Throws: `OutputSafetyError.outputExists`.
    public func checkDestination() throws(OutputSafetyError) {
        try OutputSafety.checkReplaceable(output: destination, force: replaceExisting, directoryOutput: true)
    }

    /// Builds and commits the directory.
    ///
    /// Validation (tensor names and sizes, the destination, free disk space for every byte) happens before the
    /// temporary directory is created. `files` are written after the weights; `finalFiles`, when given, is asked for
    /// after them (values computed while the weights streamed, such as a manifest with digests).
    /// - Parameters:
    ///   - tensors, maxShardSize, metadata, finalizeMetadata: the weights, as `ShardedSafetensorsWriter.write` takes them.
    ///   - files: side files (config.json, tokenizer files, generation_config.json, …); names must be plain file names.
    ///   - tensorFiles: further single safetensors files of the directory (a training checkpoint's
    ///     `optimizer.safetensors`), written after the weights.
    /// - Returns: the paths of the files in the committed directory (shards, index, then side files in order).
    /// - Throws: `OutputSafetyError` for an existing destination or too little disk space, `SafetensorsError` for
    ///   invalid tensors, `FileWriteError` for I/O failures, anything the closures throw. On error the destination is
    ///   untouched and the temporary directory is removed.
    @discardableResult
    public func write(
        tensors: [OutputTensor], maxShardSize: Int = 5_000_000_000,
        metadata: [(key: String, value: String)] = [("format", "pt")],
        finalizeMetadata: (() throws -> [(key: String, value: String)])? = nil,
        files: [SideFile] = [], finalFiles: (() throws -> [SideFile])? = nil,
        tensorFiles: [(name: String, tensors: [OutputTensor])] = []
    ) throws -> [String] {
        try checkDestination()
        _ = try SafetensorsWriter.layout(path: destination, tensors: tensors, metadata: metadata)
        for file in tensorFiles {
            _ = try SafetensorsWriter.layout(path: PathUtilities.join(destination, file.name), tensors: file.tensors, metadata: metadata)
        }
        for file in files.map(\.name) + tensorFiles.map(\.name) where file.isEmpty || file.contains("/") || file == "." || file == ".." {
            throw FileWriteError.cannotCreate(path: PathUtilities.join(destination, file), reason: "not a plain file name")
        }
        let needed = (tensors + tensorFiles.flatMap(\.tensors)).reduce(files.reduce(0) { $0 + $1.bytes.count }) { total, tensor in
            let (sum, overflow) = total.addingReportingOverflow(tensor.byteCount)
            return overflow ? Int.max : sum
        }
        // Headers and the index are a few MB at most; 16 MB covers them.
        try OutputSafety.checkFreeSpace(bytes: needed > Int.max - (16 << 20) ? Int.max : needed + (16 << 20), for: destination)

        let parent = TemporaryPaths.directory(of: destination)
        do { try PathUtilities.createDirectory(parent) } catch {
            throw FileWriteError.cannotCreate(path: destination, reason: "cannot create the parent directory \(parent): \(error)")
        }
        TemporaryPaths.removeStale(in: parent)
        let temporary = TemporaryPaths.temporary(for: destination)
        TemporaryPaths.removeTree(temporary)
        guard mkdir(temporary, 0o755) == 0 else {
            throw FileWriteError.cannotCreate(path: destination, reason: "\(temporary): \(String(cString: strerror(errno)))")
        }
        let token = TemporaryPaths.registerForInterruptCleanup(temporary)
        var committed = false
        defer {
            if !committed { TemporaryPaths.removeTree(temporary) }
            TemporaryPaths.unregister(token)
        }
        var written = try ShardedSafetensorsWriter.write(
            directory: temporary, tensors: tensors, maxShardSize: maxShardSize, metadata: metadata,
            finalizeMetadata: finalizeMetadata)
        for file in tensorFiles {
            let path = PathUtilities.join(temporary, file.name)
            try SafetensorsWriter.write(path: path, tensors: file.tensors, metadata: metadata)
            written.append(path)
        }
        for file in try files + (finalFiles?() ?? []) {
            let path = PathUtilities.join(temporary, file.name)
            try AtomicFileWriter.write(file.bytes, to: path)
            written.append(path)
        }
        try Self.syncDirectory(temporary, reportingAs: destination)
        try commit(temporary)
        committed = true
        return written.map { PathUtilities.join(destination, String($0.dropFirst(temporary.count + 1))) }
    }

    /// Moves the finished `temporary` directory to the destination: a rename when nothing (or an empty directory) is
    /// there, an atomic exchange with an existing destination (`replaceExisting`), whose old contents are removed
    /// afterwards. Where the file system cannot exchange, the old destination is first renamed aside, so only the
    /// instant between the two renames has no destination at all.
    private func commit(_ temporary: String) throws {
        var status = stat()
        let exists = lstat(destination, &status) == 0
        if !exists {
            guard AtomicFileWriter.rename(temporary, to: destination, replacing: false) == 0 else {
                throw FileWriteError.commitFailed(path: destination, reason: reason(errno))
            }
        } else if (status.st_mode & S_IFMT) == S_IFDIR, OutputSafety.isEmptyDirectory(destination) {
            // rename(2) replaces an empty directory atomically and fails (ENOTEMPTY) if it was filled meanwhile.
            guard rename(temporary, destination) == 0 else { throw FileWriteError.commitFailed(path: destination, reason: reason(errno)) }
        } else {
            guard replaceExisting else { throw OutputSafetyError.outputExists(path: destination) }
            if moekit_rename_exchange(temporary, destination) == 0 {
                // `temporary` now names the old destination; it stays registered for interrupt cleanup until removed.
                TemporaryPaths.removeTree(temporary)
            } else {
                guard errno == EINVAL || errno == ENOSYS else { throw FileWriteError.commitFailed(path: destination, reason: reason(errno)) }
                let old = TemporaryPaths.replaced(for: destination)
                let token = TemporaryPaths.registerForInterruptCleanup(old)
                defer { TemporaryPaths.unregister(token) }
                guard rename(destination, old) == 0 else { throw FileWriteError.commitFailed(path: destination, reason: reason(errno)) }
                guard rename(temporary, destination) == 0 else {
                    let failure = errno
                    _ = rename(old, destination)
                    throw FileWriteError.commitFailed(path: destination, reason: reason(failure))
                }
                TemporaryPaths.removeTree(old)
            }
        }
        try? Self.syncDirectory(TemporaryPaths.directory(of: destination), reportingAs: destination)
    }

    private func reason(_ code: Int32) -> String {
        code == EEXIST || code == ENOTEMPTY ? "it exists already (pass --force to replace it)" : String(cString: strerror(code))
    }

    /// fsync(2) of a directory, so the entries created in it survive a crash.
    static func syncDirectory(_ path: String, reportingAs destination: String) throws(FileWriteError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .writeFailed(path: destination, reason: "\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .writeFailed(path: destination, reason: "\(path): \(String(cString: strerror(errno)))") }
    }
}
