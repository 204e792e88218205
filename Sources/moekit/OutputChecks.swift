import Foundation
import IOCore

/// The checks every writing verb runs on its output before reading a model: the output must not be, lie inside or
/// contain any input (device and inode, so symbolic and hard links count), and an existing output needs `--force`.
enum OutputChecks {
    /// Checks `output` against `inputs`; a directory input also counts each file directly inside it (a hard link to
    /// one of them is refused too).
    /// - Parameter directoryOutput: the output is a directory (an existing empty directory is then accepted).
    static func check(output: String, inputs: [String], force: Bool, directoryOutput: Bool) throws {
        var all: [String] = []
        for input in inputs {
            all.append(input)
            if PathUtilities.isDirectory(input), let names = try? FileManager.default.contentsOfDirectory(atPath: input) {
                all += names.sorted().map { PathUtilities.join(input, $0) }
            }
        }
        try OutputSafety.checkSeparate(output: output, inputs: all)
        try OutputSafety.checkReplaceable(output: output, force: force, directoryOutput: directoryOutput)
    }
}
