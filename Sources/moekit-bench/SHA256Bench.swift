import ArgumentParser
import Foundation
import IOCore

/// Measures SHA-256 throughput (the manifest's source digests) with the x86 SHA extensions and with the portable C
/// compression, on an in-memory buffer, and checks both give the same digest.
struct SHA256Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sha256", abstract: "Measure SHA-256 GB/s, x86 SHA extensions vs portable C.")

    @Option(help: "Buffer size in MiB.")
    var mebibytes = 512

    func run() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let bytes: [UInt8] = (0..<(mebibytes << 20)).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        var digests: [[UInt8]] = []
        for hardware in [true, false] where hardware == false || SHA256.hasHardwareSupport {
            var hasher = SHA256(allowHardware: hardware)
            let start = Date()
            hasher.update(bytes)
            digests.append(hasher.finalize())
            let seconds = Date().timeIntervalSince(start)
            print((hardware ? "x86 SHA extensions: " : "portable C:         ") + String(format: "%.2f GB/s", Double(bytes.count) / seconds / 1e9))
        }
        guard Set(digests.map { $0.description }).count == 1 else { throw BenchError.commandFailed("digests differ", 1) }
    }
}
