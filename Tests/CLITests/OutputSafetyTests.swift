import Foundation
import TestSupport
import Testing

@testable import Formats
@testable import IOCore

#if canImport(Glibc)
import Glibc
#endif

/// A `moekit` child process that the test can signal at chosen moments (output to /dev/null). It is started with
/// SIGINT/SIGTERM/SIGHUP at their default actions, as a shell starts a foreground command, whatever the test
/// runner's own dispositions are; the signal mask is inherited (moekit unblocks the signals it handles).
final class MoekitChild {
    let pid: pid_t
    private var waitStatus: Int32?

    init(_ moekit: String, _ arguments: [String]) throws {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = ([moekit] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, moekit, &actions, &attributes, argv, environ)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EINVAL) }
        pid = child
    }

    /// Whether the child has not exited yet (reaps it when it has).
    var isRunning: Bool {
        guard waitStatus == nil else { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { waitStatus = status }
        return waitStatus == nil
    }

    /// Sends `signal` (a no-op once the child has exited).
    func send(_ signal: Int32) { if isRunning { kill(pid, signal) } }

    /// Waits for the exit, at most `seconds`; kills the child and returns nil when it is still running then.
    func wait(seconds: Double) -> (signaled: Bool, status: Int32)? {
        let deadline = Date().addingTimeInterval(seconds)
        while isRunning && Date() < deadline { usleep(2000) }
        if isRunning {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
            waitStatus = status
            return nil
        }
        let status = waitStatus!
        let signal = status & 0x7f
        return signal != 0 ? (true, signal) : (false, (status >> 8) & 0xff)
    }

    deinit {
        if isRunning {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
    }
}

/// Outputs never replace inputs or existing outputs without `--force`, HF directories appear only complete, and
/// interrupted or killed runs leave no temporary files behind once the next run has cleaned up.
@Suite("safe outputs", .serialized)
struct OutputSafetyTests {
    static let recipes = ["--recipes", TestModels.repositoryRoot + "/Converters"]

    /// Entry names of `directory` that are writer temporaries (`.<name>.tmp-<pid>`, `.<name>.old-<pid>`).
    static func temporaries(in directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter {
            TemporaryPaths.ownerProcess(ofTemporaryName: $0) != nil
        }.sorted()
    }

    /// Name → SHA-256 of every file in a directory (or of the file itself, under its own name).
    static func digests(_ path: String) throws -> [String: String] {
        guard PathUtilities.isDirectory(path) else { return [URL(fileURLWithPath: path).lastPathComponent: try SHA256.hex(file: path)] }
        var result: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: path) {
            result[name] = try SHA256.hex(file: PathUtilities.join(path, name))
        }
        return result
    }

    /// A tiny HF model and its GGUF conversion in `tmp`.
    static func tinyModels(_ moekit: String, _ tmp: TemporaryDirectory) throws -> (hf: String, gguf: String) {
        try TinyLlama().writeHFDirectory(tmp.file("hf"))
        let result = try TestModels.run(moekit, ["convert", tmp.file("hf"), tmp.file("m.gguf"), "--to", "gguf"] + recipes)
        #expect(result.status == 0, "\(result.output)")
        return (tmp.file("hf"), tmp.file("m.gguf"))
    }

    @Test("an output that is, lies inside or contains an input is refused: same path, directory, symlink, hard link")
    func outputOverInput() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let (hf, gguf) = try Self.tinyModels(moekit, tmp)
        try FileManager.default.createSymbolicLink(atPath: tmp.file("link.gguf"), withDestinationPath: gguf)
        try FileManager.default.createSymbolicLink(atPath: tmp.file("hflink"), withDestinationPath: hf)
        #expect(link(gguf, tmp.file("hard.gguf")) == 0)
        #expect(link(PathUtilities.join(hf, "model.safetensors"), tmp.file("hard.safetensors")) == 0)
        try FileManager.default.createDirectory(atPath: tmp.file("outer"), withIntermediateDirectories: true)
        #expect(link(gguf, tmp.file("outer/inner.gguf")) == 0)
        let before = (try Self.digests(hf), try Self.digests(gguf))
        let upcycle = ["--experts", "2", "--top-k", "1"]
        let cases: [(arguments: [String], output: String, wording: String)] = [
            (["upcycle", gguf, gguf, "--format", "gguf", "--force"] + upcycle, gguf, "is the input"),
            (["split", hf, hf, "--experts", "2", "--top-k", "1", "--force"], hf, "is the input"),
            (["convert", hf, PathUtilities.join(hf, "model.safetensors"), "--to", "gguf", "--force"], PathUtilities.join(hf, "model.safetensors"), "inside the input"),
            (["convert", hf, PathUtilities.join(hf, "new.gguf"), "--to", "gguf"], PathUtilities.join(hf, "new.gguf"), "inside the input"),
            (["upcycle", hf, PathUtilities.join(hf, "sub/moe")] + upcycle, PathUtilities.join(hf, "sub/moe"), "inside the input"),
            (["upcycle", gguf, tmp.file("link.gguf"), "--format", "gguf", "--force"] + upcycle, tmp.file("link.gguf"), "is the input"),
            (["upcycle", hf, tmp.file("hflink"), "--force"] + upcycle, tmp.file("hflink"), "is the input"),
            (["upcycle", gguf, tmp.file("hard.gguf"), "--format", "gguf", "--force"] + upcycle, tmp.file("hard.gguf"), "is the input"),
            (["convert", hf, tmp.file("hard.safetensors"), "--to", "gguf", "--force"], tmp.file("hard.safetensors"), "is the input"),
            (["convert", tmp.file("outer/inner.gguf"), tmp.file("outer"), "--to", "safetensors", "--force"], tmp.file("outer"), "contains the input"),
            (["merge-dense", hf, hf, "--force"], hf, "is the input"),
            (["logits", gguf, "--text", "a", "--out", gguf, "--force"], gguf, "is the input"),
            (["eval", gguf, "--tasks", "piqa", "--output", tmp.file("hard.gguf"), "--force"], tmp.file("hard.gguf"), "is the input"),
        ]
        for (arguments, output, wording) in cases {
            let result = try TestModels.run(moekit, arguments + Self.recipes)
            #expect(result.status == 1, "\(arguments): \(result.output)")
            #expect(result.output.contains(output) && result.output.contains(wording), "\(arguments): \(result.output)")
        }
        #expect(try Self.digests(hf) == before.0)
        #expect(try Self.digests(gguf) == before.1)
        #expect(Self.temporaries(in: tmp.path).isEmpty && Self.temporaries(in: hf).isEmpty)
    }

    @Test("an existing output is refused without --force and replaced as a whole with it")
    func existingOutputNeedsForce() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let (hf, gguf) = try Self.tinyModels(moekit, tmp)
        let out = tmp.file("out")
        var result = try TestModels.run(moekit, ["convert", gguf, out, "--to", "safetensors", "--dtype", "f32"] + Self.recipes)
        #expect(result.status == 0, "\(result.output)")
        #expect(FileManager.default.createFile(atPath: PathUtilities.join(out, "user-notes.txt"), contents: Data("keep".utf8)))
        let first = try Self.digests(out)
        let verbs: [[String]] = [
            ["convert", gguf, out, "--to", "safetensors", "--dtype", "f16"],
            ["upcycle", gguf, out, "--experts", "2", "--top-k", "1"],
            ["split", gguf, out, "--experts", "2", "--top-k", "1"],
            ["convert", hf, gguf, "--to", "gguf"],
            ["logits", hf, "--text", "a", "--out", gguf],
        ]
        for arguments in verbs {
            result = try TestModels.run(moekit, arguments + Self.recipes)
            #expect(result.status == 1 && result.output.contains("--force"), "\(arguments): \(result.output)")
        }
        #expect(try Self.digests(out) == first)
        // With --force the directory is replaced as a whole: the new files, nothing of the old one.
        result = try TestModels.run(moekit, ["convert", gguf, out, "--to", "safetensors", "--dtype", "f16", "--force"] + Self.recipes)
        #expect(result.status == 0, "\(result.output)")
        let replaced = try Self.digests(out)
        #expect(replaced["user-notes.txt"] == nil)
        #expect(Set(replaced.keys) == Set(first.keys).subtracting(["user-notes.txt"]))
        #expect(replaced["model.safetensors"] != first["model.safetensors"])
        #expect(try TestModels.run(moekit, ["inspect", out]).status == 0)
        // A GGUF output is replaced with --force; an empty directory counts as no output.
        let ggufBefore = try SHA256.hex(file: gguf)
        result = try TestModels.run(moekit, ["convert", hf, gguf, "--to", "gguf", "--dtype", "f16", "--force"] + Self.recipes)
        #expect(result.status == 0, "\(result.output)")
        #expect(try SHA256.hex(file: gguf) != ggufBefore)
        try FileManager.default.createDirectory(atPath: tmp.file("empty"), withIntermediateDirectories: true)
        result = try TestModels.run(moekit, ["convert", gguf, tmp.file("empty"), "--to", "safetensors"] + Self.recipes)
        #expect(result.status == 0, "\(result.output)")
        #expect(Self.temporaries(in: tmp.path).isEmpty)
    }

    @Test("a FIFO given as input fails promptly instead of blocking")
    func fifoInput() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        #expect(mkfifo(tmp.file("pipe.gguf"), 0o600) == 0)
        try FileManager.default.createDirectory(atPath: tmp.file("hf"), withIntermediateDirectories: true)
        #expect(mkfifo(tmp.file("hf/config.json"), 0o600) == 0)
        let runs: [[String]] = [
            ["inspect", tmp.file("pipe.gguf")],
            ["convert", tmp.file("pipe.gguf"), tmp.file("out"), "--to", "safetensors"],
            ["upcycle", tmp.file("pipe.gguf"), tmp.file("moe"), "--experts", "2", "--top-k", "1"],
            ["convert", tmp.file("hf"), tmp.file("x.gguf"), "--to", "gguf"],
        ]
        for arguments in runs {
            let child = try MoekitChild(moekit, arguments + (arguments[0] == "inspect" ? [] : Self.recipes))
            let exit = child.wait(seconds: 20)
            #expect(exit != nil, "\(arguments) blocked on the FIFO")
            #expect(exit?.signaled == false && exit?.status == 1, "\(arguments)")
        }
        let message = try TestModels.run(moekit, ["inspect", tmp.file("pipe.gguf")]).output
        #expect(message.contains(tmp.file("pipe.gguf")) && message.contains("FIFO"), "\(message)")
        #expect(!PathUtilities.exists(tmp.file("out")) && !PathUtilities.exists(tmp.file("moe")))
    }

    @Test("a GGUF vocabulary with a duplicate token fails before any output exists")
    func duplicateTokenFailsFirst() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let (_, gguf) = try Self.tinyModels(moekit, tmp)
        let original = try GGUFFile(path: gguf)
        var metadata = original.metadata
        guard case .array(let type, var tokens)? = metadata["tokenizer.ggml.tokens"], tokens.count > 101 else {
            Issue.record("the tiny GGUF has no vocabulary")
            return
        }
        tokens[101] = tokens[100]
        metadata["tokenizer.ggml.tokens"] = .array(type, tokens)
        try GGUFWriter.write(
            path: tmp.file("dup.gguf"), metadata: metadata, tensors: original.tensors.map { OutputTensor(copying: $0) })
        let runs: [(arguments: [String], output: String)] = [
            (["convert", tmp.file("dup.gguf"), tmp.file("hf-out"), "--to", "safetensors"], tmp.file("hf-out")),
            (["upcycle", tmp.file("dup.gguf"), tmp.file("moe-out"), "--experts", "2", "--top-k", "1"], tmp.file("moe-out")),
        ]
        for (arguments, output) in runs {
            let result = try TestModels.run(moekit, arguments + Self.recipes)
            #expect(result.status == 1, "\(result.output)")
            #expect(result.output.contains("tokenizer.ggml.tokens") && result.output.contains("duplicates"), "\(result.output)")
            #expect(!PathUtilities.exists(output))
        }
        #expect(Self.temporaries(in: tmp.path).isEmpty)
    }

    @Test("experts without a neuron are refused before any output exists, naming the option")
    func expertsNeedNeurons() throws {
        let moekit = try CLITests.binary()
        let tmp = TemporaryDirectory()
        let (hf, _) = try Self.tinyModels(moekit, tmp)  // d_ff = 128
        let runs: [(arguments: [String], option: String)] = [
            (["split", hf, tmp.file("o"), "--experts", "256", "--top-k", "1"], "experts 256"),
            (["upcycle", hf, tmp.file("o"), "--experts", "2", "--top-k", "1", "--granularity", "256"], "granularity 256"),
        ]
        for (arguments, option) in runs {
            let result = try TestModels.run(moekit, arguments + Self.recipes)
            #expect(result.status == 1, "\(result.output)")
            #expect(result.output.contains(option) && result.output.contains("at least one neuron"), "\(result.output)")
        }
        #expect(!PathUtilities.exists(tmp.file("o")) && Self.temporaries(in: tmp.path).isEmpty)
    }

    @Test("SIGINT and SIGTERM during convert remove the temporary directory and leave no output",
        .requiresSmolLM2,
        arguments: [SIGINT, SIGTERM])
    func interruptLeavesNoTemporaries(signal: Int32) throws {
        let moekit = try CLITests.binary()
        let model = try TestModels.requireSmolLM2()
        let tmp = TemporaryDirectory()
        let out = tmp.file("hf")
        let child = try MoekitChild(moekit, ["convert", model, out, "--to", "safetensors", "--dtype", "f32", "--max-shard-size", "50MB"])
        let temporary = tmp.file(".hf.tmp-\(child.pid)")
        // Interrupt once the first shard has been committed inside the temporary directory.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, child.isRunning,
            !((try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? []).contains(where: { !$0.hasPrefix(".") })
        {
            usleep(500)
        }
        child.send(signal)
        let exit = try #require(child.wait(seconds: 60))
        #expect(exit.signaled && exit.status == signal, "exit \(exit)")
        #expect(!PathUtilities.exists(out))
        #expect(Self.temporaries(in: tmp.path).isEmpty, "\(Self.temporaries(in: tmp.path))")
    }

    /// Kills `convert` at each moment given by `killAt` (called with the child while it runs; returns when to kill)
    /// and checks that the destination is either `before` (nil: absent) or exactly `complete`, that `inspect` accepts
    /// it only then, and that the next run leaves no temporary files.
    static func killAndCheck(
        _ moekit: String, arguments: [String], out: String, before: [String: String]?, complete: [String: String],
        killAt: (MoekitChild) -> Void
    ) throws -> String {
        let child = try MoekitChild(moekit, arguments)
        killAt(child)
        child.send(SIGKILL)
        _ = child.wait(seconds: 60)
        let state: String
        if !PathUtilities.exists(out) {
            state = "absent"
            #expect(before == nil, "the old output vanished")
            #expect(try TestModels.run(moekit, ["inspect", out]).status == 1)
        } else {
            let found = try digests(out)
            let isComplete = found == complete
            state = isComplete ? "complete" : "old"
            #expect(isComplete || found == before, "partial output: \(found.keys.sorted())")
            if isComplete { #expect(try TestModels.run(moekit, ["inspect", out]).status == 0) }
        }
        // The next run cleans the dead process's temporary directory.
        let parent = TemporaryPaths.directory(of: out)
        let rerun = try TestModels.run(moekit, arguments.contains("--force") ? arguments : arguments + ["--force"])
        #expect(rerun.status == 0, "\(rerun.output)")
        #expect(try digests(out) == complete)
        #expect(temporaries(in: parent).isEmpty, "\(temporaries(in: parent))")
        return state
    }

    @Test("SIGKILL at random points and as each output file appears: the HF directory is absent, old or complete",
        .requiresSmolLM2)
    func killedConvert() throws {
        let moekit = try CLITests.binary()
        let model = try TestModels.requireSmolLM2()
        let tmp = TemporaryDirectory()
        let out = tmp.file("hf")
        let arguments = ["convert", model, out, "--to", "safetensors", "--dtype", "f16", "--max-shard-size", "50MB"]
        let start = Date()
        var result = try TestModels.run(moekit, arguments)
        let duration = Date().timeIntervalSince(start)
        #expect(result.status == 0, "\(result.output)")
        let complete = try Self.digests(out)
        // Shards, index, config, generation config, 3 tokenizer files.
        #expect(complete.count >= 8 && complete.keys.contains("model.safetensors.index.json"), "\(complete.keys.sorted())")

        var states: [String: Int] = [:]
        // At the moment each file of the output appears in the temporary directory (final names and temporary ones).
        for fileIndex in 1...complete.count {
            if PathUtilities.exists(out) { try FileManager.default.removeItem(atPath: out) }
            let state = try Self.killAndCheck(moekit, arguments: arguments, out: out, before: nil, complete: complete) { child in
                let temporary = tmp.file(".hf.tmp-\(child.pid)")
                let deadline = Date().addingTimeInterval(60)
                while Date() < deadline, child.isRunning {
                    let names = (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? []
                    if names.filter({ !$0.hasPrefix(".") }).count >= fileIndex { return }
                    usleep(200)
                }
            }
            states[state, default: 0] += 1
        }
        // At random moments, over an old output being replaced with --force.
        result = try TestModels.run(moekit, ["convert", model, out, "--to", "safetensors", "--dtype", "f16", "--force"])
        #expect(result.status == 0, "\(result.output)")
        let old = try Self.digests(out)
        var generator = SeededGenerator(seed: 11)
        for _ in 0..<6 {
            result = try TestModels.run(moekit, ["convert", model, out, "--to", "safetensors", "--dtype", "f16", "--force"])
            let current = try Self.digests(out)
            #expect(result.status == 0 && current == old)
            let delay = Double.random(in: 0..<(duration * 1.2), using: &generator)
            let state = try Self.killAndCheck(moekit, arguments: arguments + ["--force"], out: out, before: old, complete: complete) { _ in
                usleep(UInt32(delay * 1_000_000))
            }
            states[state, default: 0] += 1
        }
        // Most kills land while the directory is being built (the run takes about `duration` seconds).
        #expect((states["absent"] ?? 0) + (states["old"] ?? 0) >= 6, "\(states)")
    }
}
