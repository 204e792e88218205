#if canImport(Glibc)
import Glibc
#endif

/// Writes all `count` bytes at `pointer` to `fd`, retrying short writes and EINTR.
/// - Returns: 0, or the `errno` of the write that failed.
public func writeAll(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int32 {
    var done = 0
    while done < count {
        let n = write(fd, pointer + done, count - done)
        if n < 0 {
            if errno == EINTR { continue }
            return errno
        }
        done += n
    }
    return 0
}
