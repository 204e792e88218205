import Foundation

extension SHA256 {
    /// Hashes a list of files on background threads (`SHA256.hex(file:)`), so that the digests can be computed
    /// while the caller does other work, such as writing an output that records them.
    ///
    /// Hashing starts in `init`: at most `concurrency` files are hashed at a time, the biggest first (so the
    /// longest job does not start last). `wait()` blocks until every file is done and returns the digests in the
    /// order of `files`. The digests live behind a lock; the threads touch nothing else.
    public final class BackgroundFiles: @unchecked Sendable {
        /// The digest recorded while the real one is still being computed: 64 `0` characters, the length of a
        /// hex digest, so text holding pending digests has the byte length of the final text.
        public static let pendingDigest = String(repeating: "0", count: 64)

        /// Files to hash, in the order `wait()` returns their digests.
        public let files: [String]
        private let lock = NSLock()
        private let done = DispatchGroup()
        /// Indices into `files`, biggest file first; `next` is the first one not yet taken by a thread.
        private let schedule: [Int]
        private var next = 0
        private var digests: [String?]
        private var failure: (any Error)?

        /// Starts hashing `files` on up to `concurrency` threads (at least 1).
        public init(files: [String], concurrency: Int = 2) {
            self.files = files
            digests = Array(repeating: nil, count: files.count)
            let sizes = files.map { (try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int) ?? 0 }
            schedule = files.indices.sorted { sizes[$0] != sizes[$1] ? sizes[$0] > sizes[$1] : $0 < $1 }
            for _ in 0..<min(max(concurrency, 1), files.count) {
                done.enter()
                let thread = Thread { [self] in
                    work()
                    done.leave()
                }
                thread.name = "moekit-sha256"
                thread.start()
            }
        }

        /// Takes files from the schedule until none is left, or until another file has failed.
        private func work() {
            while let index = take() {
                do {
                    let digest = try SHA256.hex(file: files[index])
                    lock.withLock { digests[index] = digest }
                } catch {
                    lock.withLock { if failure == nil { failure = error } }
                }
            }
        }

        private func take() -> Int? {
            lock.withLock {
                guard failure == nil, next < schedule.count else { return nil }
                defer { next += 1 }
                return schedule[next]
            }
        }

        /// Blocks until every file is hashed and returns the lowercase hex digests in the order of `files`.
        /// - Throws: the first error a file gave (`FileWriteError.cannotCreate` when it cannot be opened or mapped).
        public func wait() throws -> [String] {
            done.wait()
            return try lock.withLock {
                if let failure { throw failure }
                return digests.map { $0! }
            }
        }
    }
}
