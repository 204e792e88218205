import ArgumentParser
import Conversion
import Foundation

/// Writes a line to standard error, control characters escaped (`escapingControls`).
func printError(_ text: String) {
    FileHandle.standardError.write((escapingControls(text) + "\n").data(using: .utf8)!)
}

/// `text` with C0/C1 control characters and DEL other than newline and tab written as `\u{1B}`, so that bytes
/// from a corrupted file name or key cannot move the cursor, clear the screen or retitle the terminal.
func escapingControls(_ text: String) -> String {
    var result = ""
    result.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
    for scalar in text.unicodeScalars {
        let v = scalar.value
        if (v < 0x20 && v != 0x0A && v != 0x09) || (0x7F...0x9F).contains(v) {
            result += "\\u{" + String(v, radix: 16, uppercase: true) + "}"
        } else {
            result.unicodeScalars.append(scalar)
        }
    }
    return result
}

/// Runs `body`, printing any error as `error: …` on stderr and exiting with status 1.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as CustomStringConvertible {
        printError("error: \(error.description)")
        throw ExitCodeError.failure
    } catch {
        printError("error: \(error)")
        throw ExitCodeError.failure
    }
}

/// Help of every command's `--recipes DIR` option, stating `RecipeLibrary.locateDirectory`'s search order.
let recipesOptionHelp = ArgumentHelp(
    "Directory of architecture recipes. (default: $MOEKIT_CONVERTERS, $MOEKIT_RESOURCES/Converters, then Converters/ "
        + "beside the executable or in a parent, directly or under share/moekit)")

/// Raised after an error was already reported; maps to exit status 1.
enum ExitCodeError: Error {
    case failure
}

/// Prints progress lines (at most every half second) with throughput and ETA, and appends JSONL records to an
/// optional log file.
final class ProgressReporter: @unchecked Sendable {
    private let start = Date()
    private var lastPrint = Date.distantPast
    /// The `--log` file, shared with other progress of the same command.
    let log: ProgressLog?
    private let label: String
    private let lock = NSLock()

    init(label: String, logPath: String?) throws {
        self.label = label
        log = try ProgressLog.open(logPath)
    }

    func report(_ progress: ConversionProgress) {
        lock.lock()
        defer { lock.unlock() }
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(progress.bytesDone) / elapsed : 0
        let remaining = rate > 0 ? Double(progress.bytesTotal - progress.bytesDone) / rate : 0
        log?.append(event: label, [
            ("tensor", .string(progress.tensor)), ("tensors_done", .integer(Int64(progress.tensorsDone))),
            ("tensors_total", .integer(Int64(progress.tensorsTotal))), ("bytes_done", .integer(Int64(progress.bytesDone))),
            ("bytes_total", .integer(Int64(progress.bytesTotal))), ("elapsed_s", .number((elapsed * 1000).rounded() / 1000)),
            ("bytes_per_s", .number(rate.rounded())), ("eta_s", .number((remaining * 10).rounded() / 10)),
        ])
        let finished = progress.tensorsDone == progress.tensorsTotal
        guard finished || Date().timeIntervalSince(lastPrint) >= 0.5 else { return }
        lastPrint = Date()
        let line = String(
            format: "%@ [%d/%d tensors] %@ / %@  %@/s  ETA %@", label, progress.tensorsDone, progress.tensorsTotal,
            Self.bytes(progress.bytesDone), Self.bytes(progress.bytesTotal), Self.bytes(Int(rate)), Self.duration(remaining))
        printError(line)
    }

    static func bytes(_ count: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(count)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.2f %@", value, units[unit])
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }
}
