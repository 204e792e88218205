import Foundation
import IOCore

#if canImport(Glibc)
import Glibc
#endif

/// `RUN/train.jsonl`: one JSON object per line (`Schemas/train-log.schema.json`) — `start`, one `step` record per
/// optimizer step, `eval`, `checkpoint`, `end`. Lines are written whole with one write(2) each; a resumed run first
/// cuts the file back to the size its checkpoint recorded, so the log reads as one uninterrupted run.
public final class TrainingLog {
    public let path: String
    private let descriptor: Int32

    /// Opens the log, truncated to `keepingBytes` (0 for a new run).
    /// - Throws: `TrainingError.cannotRead` when the file cannot be opened or cut back.
    public init(path: String, keepingBytes: Int) throws {
        self.path = path
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TrainingError.cannotRead(path: path, reason: String(cString: strerror(errno))) }
        var status = stat()
        guard fstat(fd, &status) == 0, Int(status.st_size) >= keepingBytes, ftruncate(fd, off_t(keepingBytes)) == 0,
            lseek(fd, 0, SEEK_END) >= 0
        else {
            close(fd)
            throw TrainingError.cannotRead(path: path, reason: "cannot cut the log back to \(keepingBytes) bytes (is it the run's log?)")
        }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// Bytes written so far (what a checkpoint records).
    public var size: Int { Int(lseek(descriptor, 0, SEEK_END)) }

    /// Appends one record; `event` and `time` come first.
    public func write(_ event: String, _ fields: [(String, JSONValue)]) {
        let time = (Date().timeIntervalSince1970 * 1000).rounded() / 1000
        let line = Array((JSONWriter.serialize(.object(JSONObject([("event", .string(event)), ("time", .number(time))] + fields))) + "\n").utf8)
        line.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if n <= 0 { if errno == EINTR { continue } else { return } }
                offset += n
            }
        }
    }

    /// A JSON number rounded to `digits` significant digits (logs stay readable; NaN/Inf become null).
    public static func number(_ value: Double, digits: Int = 7) -> JSONValue {
        guard value.isFinite else { return .null }
        guard value != 0 else { return .number(0) }
        let scale = pow(10, Double(digits) - ceil(log10(abs(value))))
        return .number((value * scale).rounded() / scale)
    }
}
