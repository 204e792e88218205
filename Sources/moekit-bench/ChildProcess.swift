import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs a command as a child process and measures its wall time and peak resident memory.
struct MeasuredRun {
    let wallSeconds: Double
    /// Peak RSS of the child in bytes (`ru_maxrss` of the waited-for child).
    let peakRSSBytes: Int
    let status: Int32

    /// Drops the page cache when permitted, so the next step reads from disk; harmless when not permitted.
    static func dropPageCache() {
        _ = try? run("/bin/sh", ["-c", "sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true"])
    }

    static func run(_ executable: String, _ arguments: [String], quiet: Bool = false) throws -> MeasuredRun {
        let start = Date()
        var pid: pid_t = 0
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        if quiet { posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0) }
        defer { posix_spawn_file_actions_destroy(&actions) }
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw BenchError.spawnFailed(executable, String(cString: strerror(spawned))) }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return MeasuredRun(
            wallSeconds: Date().timeIntervalSince(start), peakRSSBytes: Int(usage.ru_maxrss) * 1024, status: exitStatus)
    }
}

enum BenchError: Error, CustomStringConvertible {
    case spawnFailed(String, String)
    case commandFailed(String, Int32)
    case notFound(String)

    var description: String {
        switch self {
        case .spawnFailed(let e, let r): return "cannot run \(e): \(r)"
        case .commandFailed(let c, let s): return "\(c) exited with status \(s)"
        case .notFound(let what): return "not found: \(what)"
        }
    }
}
