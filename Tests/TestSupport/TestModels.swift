import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// Test helpers: the repository root and running a command. The optional fixtures (SmolLM2, shared data, Python
/// packages) are located by `TestFixtures` and gated by the traits of RequiredFixtures.swift.
public enum TestModels {
    /// The repository root (three levels above this file).
    public static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    /// Runs a command, returning its exit status and combined output.
    @discardableResult
    /// Runs `executable` and returns its exit status and combined stdout + stderr.
    /// - Parameters:
    ///   - environment: variables set on top of `baseEnvironment` (nil: none).
    ///   - baseEnvironment: the environment to start from (nil: this process's).
    ///   - directory: the working directory (nil: this process's).
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        baseEnvironment: [String: String]? = nil, directory: String? = nil
    ) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if environment != nil || baseEnvironment != nil {
            process.environment = (baseEnvironment ?? ProcessInfo.processInfo.environment).merging(environment ?? [:]) { $1 }
        }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
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
