import CPlatform

#if canImport(Glibc)
import Glibc
#endif

/// Starts the kernel's write-back of a file written front to back each time another `interval` bytes have reached
/// it, so the disk writes while the program computes and the final fsync or syncfs has little left to do (`cp && sync`
/// gets the same overlap from the kernel's own flusher). Used by `AtomicFileWriter` and prepare-data's writers.
public struct WritebackScheduler: Sendable {
    /// Bytes between two write-back requests.
    public let interval: Int
    /// Bytes of the file handed to write-back so far.
    private var started = 0

    public init(interval: Int) { self.interval = interval }

    /// Notes that the file `fd` now holds `size` bytes (user-space buffers not counted) and starts write-back of
    /// the part not yet started once it reaches `interval`.
    public mutating func fileReached(_ size: Int, fd: Int32) {
        guard size - started >= interval else { return }
        _ = moekit_start_writeback(fd, off_t(started), off_t(size - started))
        started = size
    }
}
