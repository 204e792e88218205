import Dispatch
import Foundation
import TestSupport
import Testing

@testable import IOCore

/// Seeded fuzzing of the command line: mutated GGUF and safetensors files (`inspect`, `convert`), mutated HF
/// directories (`convert`), mutated task and data files (`eval`) and mutated plan files (`plan`). Every run must end
/// with status 0, or 1/64 and a message naming the mutated file — never a signal, a hang (each run has a deadline)
/// or an allocation beyond an address-space cap (`ulimit -v`), which turns into a crash and so into a failure.
///
/// `MOEKIT_FUZZ_ITERATIONS` sets the number of cases (default 1200, a fifth per target; about a minute on two
/// busy cores), `MOEKIT_FUZZ_SEED` the seed. A case is reproducible from the seed and its index alone; failing inputs are
/// kept under `$TMPDIR/moekit-fuzz-failures/`.
@Suite("CLI fuzzing", .serialized)
struct FuzzTests {
    /// Address-space cap per run, KiB.
    static let addressSpaceKiB = 4 * 1024 * 1024
    /// Deadline per run, seconds.
    static let deadline: TimeInterval = 60

    enum Target: CaseIterable { case inspectFile, convertFile, convertDirectory, evalTask, plan }

    struct Outcome: Sendable {
        var status: Int32
        var signalled: Bool
        var timedOut: Bool
        var output: String
    }

    /// Runs `moekit` under `ulimit -v` with a deadline.
    static func run(_ moekit: String, _ arguments: [String], in directory: String) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "ulimit -v \(addressSpaceKiB); exec \"$0\" \"$@\"", moekit] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("MOEKIT_") }
        environment["MOEKIT_THREADS"] = "1"
        process.environment = environment
        let output = TemporaryFileOutput(path: directory + "/.output")
        process.standardOutput = output.handle
        process.standardError = output.handle
        try process.run()
        let start = Date()
        var timedOut = false
        while process.isRunning {
            if Date().timeIntervalSince(start) > deadline {
                timedOut = true
                process.terminate()
                usleep(200_000)
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                break
            }
            usleep(2_000)
        }
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal, timedOut: timedOut,
            output: output.read())
    }

    /// Output captured in a file (no pipe to drain while polling the deadline).
    final class TemporaryFileOutput {
        let path: String
        let handle: FileHandle
        init(path: String) {
            self.path = path
            FileManager.default.createFile(atPath: path, contents: nil)
            handle = FileHandle(forWritingAtPath: path)!
        }
        func read() -> String {
            try? handle.close()
            return (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        }
    }

    // MARK: mutations

    static let interestingIntegers: [UInt64] = [
        0, 1, 2, 3, 4, 7, 8, 16, 255, 256, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
        0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF, 1 << 40, 1 << 50,
    ]

    static func mutateBinary(_ input: [UInt8], headerBytes: Int, rng: inout SeededGenerator) -> [UInt8] {
        var bytes = input
        let operations = Int.random(in: 1...4, using: &rng)
        for _ in 0..<operations where !bytes.isEmpty {
            let limit = Bool.random(using: &rng) || Int.random(in: 0..<5, using: &rng) > 0 ? min(bytes.count, headerBytes) : bytes.count
            let at = Int.random(in: 0..<max(1, limit), using: &rng)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: bytes[at] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
            case 1: bytes[at] = [0, 0xFF, 0x7F, 0x80, 0x20, 0x22, 0x7B, 0x5D].randomElement(using: &rng)!
            case 2:
                let value = interestingIntegers.randomElement(using: &rng)!
                let width = [4, 8].randomElement(using: &rng)!
                for k in 0..<width where at + k < bytes.count { bytes[at + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k))) }
            case 3: bytes.removeSubrange(at..<bytes.count)
            case 4: bytes.insert(contentsOf: (0..<Int.random(in: 1...16, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
            default: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...32, using: &rng)))
            }
        }
        return bytes
    }

    static let snippets = [
        "\"", "{", "}", "[", "]", ":", ",", "-1", "0", "1e400", "-1e400", "18446744073709551616", "1000000000", "null", "true",
        "\"\"", "\"x\"", "\u{0}", "\n", "  ", "#", "&a", "*a", "!!binary", "- ", "é", "🙂", "\u{1B}[2J", "1.5", ".nan", "NaN",
        "{}", "[]", "\"layers\"", "99999999999999999999999", String(repeating: "a", count: 5000), "{{x}}", "{{", "\\u0000",
    ]

    static func mutateText(_ input: String, rng: inout SeededGenerator) -> String {
        var scalars = Array(input.unicodeScalars)
        let operations = Int.random(in: 1...3, using: &rng)
        for _ in 0..<operations {
            let at = Int.random(in: 0...scalars.count, using: &rng)
            switch Int.random(in: 0..<5, using: &rng) {
            case 0 where !scalars.isEmpty:
                scalars.removeSubrange(min(at, scalars.count - 1)..<min(scalars.count, at + Int.random(in: 1...8, using: &rng)))
            case 1, 2:
                scalars.insert(contentsOf: snippets.randomElement(using: &rng)!.unicodeScalars, at: at)
            case 3:
                // Replace the number at or after `at` with an interesting one.
                var i = at
                while i < scalars.count, !("0"..."9").contains(scalars[i]) { i += 1 }
                var j = i
                while j < scalars.count, ("0"..."9").contains(scalars[j]) || scalars[j] == "." { j += 1 }
                let value = ["-1", "0", "1e400", "4294967296", "18446744073709551615", "1000000", "0.5", "-0"].randomElement(using: &rng)!
                scalars.replaceSubrange(i..<j, with: value.unicodeScalars)
            default:
                let lines = String(String.UnicodeScalarView(scalars)).split(separator: "\n", omittingEmptySubsequences: false)
                guard lines.count > 1 else { continue }
                var copy = lines
                let a = Int.random(in: 0..<lines.count, using: &rng)
                copy.insert(lines[a], at: Int.random(in: 0...lines.count, using: &rng))
                scalars = Array(copy.joined(separator: "\n").unicodeScalars)
            }
        }
        return String(String.UnicodeScalarView(scalars))
    }

    // MARK: seeds

    struct Seeds {
        let model: String
        let gguf: [UInt8]
        let safetensors: [UInt8]
        let config: String
        let task: String
        let data: String
        let plans: [(name: String, text: String)]
    }

    static func makeSeeds(_ moekit: String, _ tmp: TemporaryDirectory) throws -> Seeds {
        let model = tmp.file("tiny")
        try TinyLlama().writeHFDirectory(model)
        let convert = try run(moekit, ["convert", model, tmp.file("tiny.gguf")], in: tmp.path)
        guard convert.status == 0 else { throw MissingFixture("cannot make the GGUF seed: \(convert.output)") }
        let task = """
            {"version": 1, "name": "mine", "task_version": 1, "output_type": "multiple_choice", "format": "query_choices_gold",
             "data": {"file": "mine.jsonl"}, "template": "Q: {{query}}\\nA:", "target_delimiter": " ",
             "fewshot": {"num_fewshot": 1, "separator": "\\n\\n", "seed": 1234}, "metrics": ["acc", "acc_norm"]}
            """
        let data = """
            {"query": "Is the sky blue?", "choices": ["yes", "no"], "gold": 0}
            {"query": "Two plus two?", "choices": ["four", "five", "six"], "gold": 0}
            {"query": "Is fire cold?", "choices": ["yes", "no"], "gold": 1}

            """
        let yaml = """
            operation: upcycle
            experts: 4
            top_k: 2
            router: random
            noise: 0.01
            seed: 7
            format: safetensors
            dtype: f16
            layers:
              - layers: [0]
                experts: 2
                top_k: 1
            """
        let json = """
            {"operation": "split", "experts": 4, "top_k": 2, "method": "random", "rescale": "n-over-k", "router": "zero",
             "seed": 3, "dense_layers": [1], "target": "mixtral"}
            """
        return Seeds(
            model: model, gguf: try PathUtilities.readBytes(tmp.file("tiny.gguf")),
            safetensors: try PathUtilities.readBytes(model + "/model.safetensors"),
            config: try String(contentsOfFile: model + "/config.json", encoding: .utf8), task: task, data: data,
            plans: [("plan.yaml", yaml), ("plan.json", json)])
    }

    /// Writes case `index`'s input under `directory`; returns the arguments and the path the message must name.
    static func prepare(_ target: Target, index: Int, seeds: Seeds, directory: String, rng: inout SeededGenerator) throws
        -> (arguments: [String], names: String)
    {
        func write(_ bytes: [UInt8], _ name: String) throws -> String {
            let path = directory + "/" + name
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return path
        }
        switch target {
        case .inspectFile:
            if Bool.random(using: &rng) {
                let path = try write(mutateBinary(seeds.gguf, headerBytes: 4096, rng: &rng), "m.gguf")
                return (["inspect", path] + (Bool.random(using: &rng) ? ["--json"] : []), path)
            }
            let path = try write(mutateBinary(seeds.safetensors, headerBytes: 2048, rng: &rng), "m.safetensors")
            return (["inspect", path], path)
        case .convertFile:
            let path = try write(mutateBinary(seeds.gguf, headerBytes: 4096, rng: &rng), "m.gguf")
            return (["convert", path, directory + "/out"], path)
        case .convertDirectory:
            let hf = directory + "/hf"
            try FileManager.default.createDirectory(atPath: hf, withIntermediateDirectories: true)
            for name in ["tokenizer.json", "tokenizer_config.json"] {
                try FileManager.default.copyItem(atPath: seeds.model + "/" + name, toPath: hf + "/" + name)
            }
            if Bool.random(using: &rng) {
                _ = try write(Array(mutateText(seeds.config, rng: &rng).utf8), "hf/config.json")
                _ = try write(seeds.safetensors, "hf/model.safetensors")
            } else {
                _ = try write(Array(seeds.config.utf8), "hf/config.json")
                _ = try write(mutateBinary(seeds.safetensors, headerBytes: 2048, rng: &rng), "hf/model.safetensors")
            }
            return (["convert", hf, directory + "/out.gguf"], hf)
        case .evalTask:
            let tasks = directory + "/tasks"
            try FileManager.default.createDirectory(atPath: tasks, withIntermediateDirectories: true)
            let mutateTask = Int.random(in: 0..<3, using: &rng) > 0
            _ = try write(Array((mutateTask ? mutateText(seeds.task, rng: &rng) : seeds.task).utf8), "tasks/mine.json")
            _ = try write(Array((mutateTask ? seeds.data : mutateText(seeds.data, rng: &rng)).utf8), "tasks/mine.jsonl")
            return (["eval", seeds.model, "--tasks", "mine", "--task-dir", tasks, "--limit", "2"], tasks)
        case .plan:
            let seed = seeds.plans.randomElement(using: &rng)!
            let path = try write(Array(mutateText(seed.text, rng: &rng).utf8), seed.name)
            return (["plan", "--plan", path, seeds.model], path)
        }
    }

    @Test("mutated inputs to inspect, convert, eval task files and plan files never crash, hang or over-allocate")
    func fuzz() throws {
        let moekit = try CLITests.binary()
        let environment = ProcessInfo.processInfo.environment
        let total = environment["MOEKIT_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 1200
        // Decimal or 0x-prefixed hex; a value that does not parse is an error, not a silent fall-back to the default.
        let seed: UInt64
        if let text = environment["MOEKIT_FUZZ_SEED"] {
            let parsed = text.lowercased().hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
            guard let parsed else {
                Issue.record("MOEKIT_FUZZ_SEED=\(text) is not a decimal or 0x-prefixed hexadecimal UInt64")
                return
            }
            seed = parsed
        } else {
            seed = 0x6D6F_656B_6974
        }
        let tmp = TemporaryDirectory(prefix: "moekit-fuzz")
        let seeds = try Self.makeSeeds(moekit, tmp)
        let failures = FailureLog(directory: FileManager.default.temporaryDirectory.path + "/moekit-fuzz-failures")
        let counts = FailureLog.Counter()
        let workers = 2
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var index = worker
            while index < total {
                defer { index += workers }
                let target = Target.allCases[index % Target.allCases.count]
                var rng = SeededGenerator(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
                let directory = tmp.file("case-\(index)")
                do {
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                    defer { try? FileManager.default.removeItem(atPath: directory) }
                    let (arguments, names) = try Self.prepare(target, index: index, seeds: seeds, directory: directory, rng: &rng)
                    let outcome = try Self.run(moekit, arguments, in: directory)
                    counts.add(status: outcome.status)
                    var problem: String?
                    if outcome.timedOut {
                        problem = "no exit within \(Int(Self.deadline)) s"
                    } else if outcome.signalled {
                        problem = "killed by signal \(outcome.status)"
                    } else if ![0, 1, 64].contains(outcome.status) {
                        problem = "exit status \(outcome.status)"
                    } else if outcome.status != 0 && !outcome.output.contains(names) {
                        problem = "the message does not name \(names)"
                    } else if outcome.output.contains("Fatal error") || outcome.output.contains("NSCocoaErrorDomain") {
                        problem = "a raw runtime message"
                    }
                    if let problem { failures.record(index: index, problem: problem, arguments: arguments, output: outcome.output, directory: directory) }
                } catch {
                    failures.record(index: index, problem: "harness error \(error)", arguments: [], output: "", directory: directory)
                }
            }
        }
        let summary = counts.summary
        #expect(summary.total == total)
        #expect(failures.entries.isEmpty, "\(failures.entries.count) of \(total) cases failed (seed \(seed)):\n\(failures.entries.prefix(8).joined(separator: "\n\n"))")
        // The fuzzer must reach both outcomes, or it tests nothing.
        #expect(summary.succeeded > total / 50, "\(summary)")
        #expect(summary.refused > total / 4, "\(summary)")
    }

    /// Failures (with their inputs copied aside) and status counts, shared by the workers.
    final class FailureLog: @unchecked Sendable {
        let directory: String
        private let lock = NSLock()
        private(set) var entries: [String] = []
        init(directory: String) { self.directory = directory }

        func record(index: Int, problem: String, arguments: [String], output: String, directory source: String) {
            let kept = directory + "/case-\(index)"
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(atPath: kept)
            try? FileManager.default.copyItem(atPath: source, toPath: kept)
            let text = "case \(index): \(problem)\n  moekit \(arguments.joined(separator: " "))\n  input kept in \(kept)\n  "
                + String(output.suffix(600))
            lock.lock()
            entries.append(text)
            lock.unlock()
        }

        final class Counter: @unchecked Sendable {
            private let lock = NSLock()
            private var counts: [Int32: Int] = [:]
            func add(status: Int32) {
                lock.lock()
                counts[status, default: 0] += 1
                lock.unlock()
            }
            var summary: (total: Int, succeeded: Int, refused: Int) {
                lock.lock()
                defer { lock.unlock() }
                return (counts.values.reduce(0, +), counts[0] ?? 0, (counts[1] ?? 0) + (counts[64] ?? 0))
            }
        }
    }
}
