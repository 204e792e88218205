#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors raised while opening or mapping a file.
public enum MappedFileError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case cannotMap(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): return "\(path): cannot open: \(reason)"
        case .cannotMap(let path, let reason): return "\(path): cannot memory-map: \(reason)"
        }
    }
}

/// A read-only memory mapping of a whole file. Tensor views point into `bytes` and keep the mapping alive by
/// holding a reference to this object; nothing is copied until a tensor is converted.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened from (used in error messages).
    public let path: String
    /// The mapped bytes; empty for an empty file.
    public let bytes: UnsafeRawBufferPointer
    /// The open file descriptor (kept for in-kernel copies with `copy_file_range`); closed on deinit.
    public let descriptor: Int32
    private let base: UnsafeMutableRawPointer?

    /// Maps `path` read-only.
    /// - Throws: `MappedFileError` when the file cannot be opened, is not a regular file or cannot be mapped.
    public init(path: String) throws {
        self.path = path
        // Non-regular files are refused before opening (opening a FIFO for reading blocks until a writer appears);
        // O_NONBLOCK covers one that replaces the file between the two calls, and fstat below checks what was opened.
        var before = stat()
        if stat(path, &before) == 0, (before.st_mode & S_IFMT) != S_IFREG {
            throw MappedFileError.cannotOpen(path: path, reason: "not a regular file (\(Self.kind(before.st_mode)))")
        }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw MappedFileError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw MappedFileError.cannotOpen(path: path, reason: reason)
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw MappedFileError.cannotOpen(path: path, reason: "not a regular file (\(Self.kind(status.st_mode)))")
        }
        descriptor = fd
        let size = Int(status.st_size)
        if size == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw MappedFileError.cannotMap(path: path, reason: reason)
        }
        base = mapped
        bytes = UnsafeRawBufferPointer(start: mapped, count: size)
    }

    /// What a non-regular file is, for messages.
    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        default: return "a special file"
        }
    }

    /// Tells the kernel that `range` will be read sequentially soon (read-ahead), and may be dropped after.
    public func adviseSequential(_ range: Range<Int>) {
        guard let base, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = range.lowerBound / page * page
        _ = madvise(base + start, range.upperBound - start, MADV_SEQUENTIAL)
        _ = madvise(base + start, range.upperBound - start, MADV_WILLNEED)
    }

    /// Releases the pages of `range` from this process (they are re-read from disk if touched again).
    /// Streaming converters call this after a tensor is written so resident memory stays bounded.
    public func dropPages(_ range: Range<Int>) {
        guard let base, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = range.lowerBound / page * page
        let end = range.upperBound / page * page
        guard end > start else { return }
        _ = madvise(base + start, end - start, MADV_DONTNEED)
    }

    /// The file size in bytes.
    public var count: Int { bytes.count }

    deinit {
        if let base { munmap(base, bytes.count) }
        close(descriptor)
    }
}
