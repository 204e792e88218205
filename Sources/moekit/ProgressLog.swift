import Foundation
import IOCore

/// A machine-readable progress log (`--log FILE`): JSON records appended one per line, each starting with its
/// `event` name and the wall-clock `time` (Unix seconds, millisecond resolution). The file is created when missing
/// and appended to otherwise, so one log can follow several commands.
final class ProgressLog {
    private let handle: FileHandle

    /// Opens `path` for appending, or returns nil when no log was asked for.
    /// - Throws: `FileWriteError.cannotCreate` naming the path when it cannot be opened for writing.
    static func open(_ path: String?) throws -> ProgressLog? {
        guard let path else { return nil }
        return try ProgressLog(path: path)
    }

    private init(path: String) throws {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw FileWriteError.cannotCreate(path: path, reason: "cannot open log for writing")
        }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    /// Appends `{"event": event, "time": now, fields…}`.
    func append(event: String, _ fields: [(String, JSONValue)]) {
        let record = JSONValue.object(JSONObject(
            [("event", .string(event)), ("time", .number((Date().timeIntervalSince1970 * 1000).rounded() / 1000))] + fields))
        handle.write((JSONWriter.serialize(record) + "\n").data(using: .utf8)!)
    }
}
