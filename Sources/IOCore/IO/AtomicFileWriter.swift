import CPlatform

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors from writing output files.
public enum FileWriteError: Error, CustomStringConvertible, Equatable {
    case cannotCreate(path: String, reason: String)
    case writeFailed(path: String, reason: String)
    case commitFailed(path: String, reason: String)
    /// `overwrite` was given bytes of a different length than the region they replace.
    case overwriteLengthChanged(path: String, offset: Int, expected: Int, found: Int)
    /// `overwrite` named a region that does not lie within the bytes written so far.
    case overwriteOutOfRange(path: String, offset: Int, count: Int, written: Int)

    public var description: String {
        switch self {
        case .cannotCreate(let p, let r): return "\(p): cannot create: \(r)"
        case .writeFailed(let p, let r): return "\(p): write failed: \(r)"
        case .commitFailed(let p, let r): return "\(p): cannot move into place: \(r)"
        case .overwriteLengthChanged(let p, let offset, let expected, let found):
            return "\(p): the final bytes at offset \(offset) are \(found) bytes long, but the region written first is \(expected)"
        case .overwriteOutOfRange(let p, let offset, let count, let written):
            return "\(p): cannot overwrite \(count) bytes at offset \(offset): only \(written) bytes are written"
        }
    }
}

/// Writes a file atomically: bytes go to a hidden temporary file in the destination's directory, which is
/// flushed (`fsync`) and renamed over the destination by `commit()`. An interrupted run leaves at most a
/// `.<name>.tmp-<pid>` file, never a half-written file under the real name.
///
/// Writes are buffered (4 MiB) so callers can stream many small pieces.
public final class AtomicFileWriter {
    /// Final destination.
    public let path: String
    /// Temporary file being written.
    public let temporaryPath: String
    private var fd: Int32
    private var buffer: UnsafeMutableRawPointer
    private let bufferCapacity = 4 << 20
    private var buffered = 0
    /// Bytes written so far (including buffered ones).
    public private(set) var bytesWritten = 0
    private var finished = false

    /// Whether `commit()` may replace an existing file at `path`.
    public let replaceExisting: Bool
    /// Token of the temporary file's registration for removal on SIGINT/SIGTERM (`TemporaryPaths`).
    private var cleanupToken: Int32

    /// Creates the temporary file next to `path` (`TemporaryPaths.temporary(for:)`, registered for removal if the
    /// process is interrupted).
    /// - Parameter replaceExisting: when false, `commit()` fails with `.commitFailed` instead of replacing a file
    ///   that exists at `path` by then (checked atomically with the rename where the file system can).
    public init(path: String, replaceExisting: Bool = true) throws(FileWriteError) {
        self.path = path
        self.replaceExisting = replaceExisting
        temporaryPath = TemporaryPaths.temporary(for: path)
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw .cannotCreate(path: path, reason: String(cString: strerror(errno)))
        }
        cleanupToken = TemporaryPaths.registerForInterruptCleanup(temporaryPath)
        buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferCapacity, alignment: 64)
    }

    deinit {
        buffer.deallocate()
        if !finished {
            close(fd)
            unlink(temporaryPath)
        }
        releaseCleanup()
    }

    /// Ends the temporary file's registration for interrupt cleanup (once).
    private func releaseCleanup() {
        TemporaryPaths.unregister(cleanupToken)
        cleanupToken = -1
    }

    /// Appends `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(FileWriteError) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        if bytes.count >= bufferCapacity {
            try flushBuffer()
            try writeFully(base, bytes.count)
        } else {
            if buffered + bytes.count > bufferCapacity { try flushBuffer() }
            (buffer + buffered).copyMemory(from: base, byteCount: bytes.count)
            buffered += bytes.count
        }
        bytesWritten += bytes.count
        startWritebackIfDue()
    }

    /// Appends the bytes of an array.
    public func write(_ bytes: [UInt8]) throws(FileWriteError) {
        let result: Result<Void, FileWriteError> = bytes.withUnsafeBytes { raw in
            do throws(FileWriteError) { try write(raw); return .success(()) } catch { return .failure(error) }
        }
        try result.get()
    }

    /// Appends `count` bytes of the file open as `source`, starting at `offset`, with in-kernel copies
    /// (`copy_file_range`, what `cp` uses) and a read/write fallback where the kernel cannot do that.
    public func copy(fromDescriptor source: Int32, offset: Int, count: Int) throws(FileWriteError) {
        try flushBuffer()
        var inputOffset = off_t(offset)
        var remaining = count
        while remaining > 0 {
            let n = moekit_copy_file_range(source, &inputOffset, fd, nil, remaining)
            if n > 0 {
                remaining -= n
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n == 0 { throw .writeFailed(path: path, reason: "source ended \(remaining) bytes early") }
            // EXDEV, ENOSYS, EINVAL…: copy through user space instead.
            let chunk = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 64)
            defer { chunk.deallocate() }
            while remaining > 0 {
                let r = pread(source, chunk, min(remaining, 1 << 20), inputOffset)
                if r < 0 && errno == EINTR { continue }
                guard r > 0 else { throw .writeFailed(path: path, reason: "cannot read the source: \(String(cString: strerror(errno)))") }
                try writeFully(chunk, r)
                inputOffset += off_t(r)
                remaining -= r
            }
        }
        bytesWritten += count
        startWritebackIfDue()
    }

    /// Write-back is started every 64 MiB (`WritebackScheduler`).
    private var writeback = WritebackScheduler(interval: 64 << 20)

    private func startWritebackIfDue() { writeback.fileReached(bytesWritten - buffered, fd: fd) }

    /// Appends `count` zero bytes.
    public func writeZeros(_ count: Int) throws(FileWriteError) {
        guard count > 0 else { return }
        try write([UInt8](repeating: 0, count: count))
    }

    /// Appends a little-endian integer.
    public func writeLittleEndian<T: FixedWidthInteger>(_ value: T) throws(FileWriteError) {
        var le = value.littleEndian
        let result: Result<Void, FileWriteError> = withUnsafeBytes(of: &le) { raw in
            do throws(FileWriteError) { try write(raw); return .success(()) } catch { return .failure(error) }
        }
        try result.get()
    }

    /// Gives the caller a scratch buffer of `count` bytes inside the write buffer to fill in place (avoids a copy
    /// when converting). `count` must not exceed 4 MiB.
    public func withReservedBytes(_ count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) throws(FileWriteError) {
        precondition(count <= bufferCapacity, "withReservedBytes: \(count) bytes exceeds the write buffer")
        if buffered + count > bufferCapacity { try flushBuffer() }
        fill(UnsafeMutableRawBufferPointer(start: buffer + buffered, count: count))
        buffered += count
        bytesWritten += count
    }

    /// Replaces `length` bytes already written at `offset` with `bytes` (a header whose final contents are known
    /// only after the data, e.g. digests computed meanwhile). The file's length does not change, and nothing is
    /// visible under the real name until `commit()`.
    /// - Throws: `FileWriteError.overwriteLengthChanged` when `bytes.count != length` (the region cannot grow
    ///   or shrink), `.overwriteOutOfRange` when the region does not lie within `bytesWritten`, `.writeFailed`
    ///   for I/O failures.
    public func overwrite(_ bytes: [UInt8], at offset: Int, replacing length: Int) throws(FileWriteError) {
        guard bytes.count == length else {
            throw .overwriteLengthChanged(path: path, offset: offset, expected: length, found: bytes.count)
        }
        guard offset >= 0, length >= 0, offset <= bytesWritten - length else {
            throw .overwriteOutOfRange(path: path, offset: offset, count: length, written: bytesWritten)
        }
        try flushBuffer()
        let result: Result<Void, FileWriteError> = bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return .success(()) }
            var done = 0
            while done < raw.count {
                let n = pwrite(fd, base + done, raw.count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    return .failure(.writeFailed(path: path, reason: String(cString: strerror(errno))))
                }
                done += n
            }
            return .success(())
        }
        try result.get()
    }

    /// Flushes, syncs and renames the file into place. The writer cannot be used afterwards.
    public func commit() throws(FileWriteError) {
        try flushBuffer()
        guard fsync(fd) == 0 else { throw .writeFailed(path: path, reason: String(cString: strerror(errno))) }
        close(fd)
        finished = true
        defer { releaseCleanup() }
        guard Self.rename(temporaryPath, to: path, replacing: replaceExisting) == 0 else {
            let reason = errno == EEXIST ? "it exists already (pass --force to replace it)" : String(cString: strerror(errno))
            unlink(temporaryPath)
            throw .commitFailed(path: path, reason: reason)
        }
    }

    /// rename(2), or with `replacing` false one that fails with EEXIST when `to` exists (renameat2 RENAME_NOREPLACE,
    /// or an existence check before the rename where the file system has no such call). 0 on success.
    package static func rename(_ from: String, to: String, replacing: Bool) -> Int32 {
        if replacing { return Glibc.rename(from, to) }
        if moekit_rename_noreplace(from, to) == 0 { return 0 }
        guard errno == EINVAL || errno == ENOSYS else { return -1 }
        var status = stat()
        if lstat(to, &status) == 0 {
            errno = EEXIST
            return -1
        }
        return Glibc.rename(from, to)
    }

    /// Abandons the file: the temporary file is removed and the destination is untouched.
    public func abandon() {
        guard !finished else { return }
        finished = true
        close(fd)
        unlink(temporaryPath)
        releaseCleanup()
    }

    private func flushBuffer() throws(FileWriteError) {
        guard buffered > 0 else { return }
        try writeFully(buffer, buffered)
        buffered = 0
    }

    private func writeFully(_ pointer: UnsafeRawPointer, _ count: Int) throws(FileWriteError) {
        let failure = writeAll(fd, pointer, count)
        guard failure == 0 else { throw .writeFailed(path: path, reason: String(cString: strerror(failure))) }
    }
}

extension AtomicFileWriter {
    /// Writes `bytes` to `path` atomically in one call (replacing an existing file only when `replaceExisting`).
    public static func write(_ bytes: [UInt8], to path: String, replaceExisting: Bool = true) throws(FileWriteError) {
        let writer = try AtomicFileWriter(path: path, replaceExisting: replaceExisting)
        try writer.write(bytes)
        try writer.commit()
    }
}
