import IOCore

#if canImport(Glibc)
import Glibc
#endif

/// A buffered file writer for files inside a data directory under construction. It does not fsync each file:
/// the directory is the atomic unit, flushed once with syncfs before it is renamed into place (`OutputDirectory`).
/// Write-back starts every 32 MiB (`WritebackScheduler`), so the disk writes while tokenisation runs and the
/// final syncfs has little left to do.
final class DataFileWriter {
    let path: String
    private let fd: Int32
    private let buffer: UnsafeMutableRawPointer
    private let capacity = 1 << 20
    private var buffered = 0
    private var closed = false
    /// Bytes in the file (not counting `buffer`).
    private var inFile = 0
    private var writeback = WritebackScheduler(interval: 32 << 20)

    init(path: String) throws(TrainingDataError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw .writeFailed(path: path, reason: String(cString: strerror(errno))) }
        buffer = .allocate(byteCount: capacity, alignment: 64)
    }

    deinit {
        buffer.deallocate()
        if !closed { close(fd) }
    }

    /// Appends `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws(TrainingDataError) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        if buffered + bytes.count > capacity { try flush() }
        if bytes.count >= capacity {
            try writeFully(base, bytes.count)
        } else {
            (buffer + buffered).copyMemory(from: base, byteCount: bytes.count)
            buffered += bytes.count
        }
    }

    /// Appends the bytes of an array.
    func write(_ bytes: [UInt8]) throws(TrainingDataError) {
        let result: Result<Void, TrainingDataError> = bytes.withUnsafeBytes { raw in
            do throws(TrainingDataError) { try write(raw); return .success(()) } catch { return .failure(error) }
        }
        try result.get()
    }

    /// Flushes and closes the file.
    func finish() throws(TrainingDataError) {
        try flush()
        closed = true
        guard close(fd) == 0 else { throw .writeFailed(path: path, reason: String(cString: strerror(errno))) }
    }

    private func flush() throws(TrainingDataError) {
        guard buffered > 0 else { return }
        try writeFully(buffer, buffered)
        buffered = 0
    }

    private func writeFully(_ pointer: UnsafeRawPointer, _ count: Int) throws(TrainingDataError) {
        let failure = writeAll(fd, pointer, count)
        guard failure == 0 else { throw .writeFailed(path: path, reason: String(cString: strerror(failure))) }
        inFile += count
        writeback.fileReached(inFile, fd: fd)
    }
}
