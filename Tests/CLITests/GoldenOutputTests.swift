import Formats
import Foundation
import IOCore
import TestSupport
import Testing

/// Every tensor that `convert`, `upcycle`, `split` (random, clustering; mixtral, qwen2-moe, olmoe, llama-moe targets)
/// and `merge-dense` write on SmolLM2 must stay byte-identical to what moekit wrote at commit 8ed503c. The golden
/// per-tensor SHA-256 values (first 16 hex digits and the dtype, Fixtures/golden-smollm2-8ed503c.json) were computed
/// by an independent reader, gguf-py and a raw safetensors header walk (scripts/golden_hashes.py), from the outputs of
/// scripts/golden_commands.sh; this test runs the same commands and hashes the tensors itself.
@Suite("Golden outputs on SmolLM2", .serialized)
struct GoldenOutputTests {
    /// One command: the output it writes (relative to the work directory) and its arguments, where `MODEL` stands
    /// for the SmolLM2 GGUF.
    struct Command {
        let output: String
        let arguments: [String]
    }

    static let commands: [Command] = [
        Command(output: "hf", arguments: ["convert", "MODEL", "hf", "--to", "safetensors", "--dtype", "f32"]),
        Command(output: "f16.gguf", arguments: ["convert", "hf", "f16.gguf", "--to", "gguf", "--dtype", "f16"]),
        Command(output: "up-mixtral", arguments: [
            "upcycle", "MODEL", "up-mixtral", "--experts", "4", "--top-k", "2", "--target", "mixtral", "--format", "safetensors",
            "--seed", "7", "--dtype", "f32",
        ]),
        Command(output: "up-qwen.gguf", arguments: [
            "upcycle", "hf", "up-qwen.gguf", "--experts", "4", "--top-k", "2", "--target", "qwen2-moe", "--format", "gguf",
            "--shared-experts", "1", "--seed", "7", "--dtype", "f16",
        ]),
        Command(output: "sp-random.gguf", arguments: [
            "split", "MODEL", "sp-random.gguf", "--experts", "8", "--top-k", "2", "--method", "random", "--target", "mixtral",
            "--format", "gguf", "--seed", "7", "--dtype", "f16",
        ]),
        Command(output: "sp-cluster", arguments: [
            "split", "hf", "sp-cluster", "--experts", "8", "--top-k", "2", "--method", "clustering", "--rescale", "n-over-k",
            "--target", "olmoe", "--format", "safetensors", "--seed", "7", "--dtype", "bf16",
        ]),
        Command(output: "sp-lmoe", arguments: [
            "split", "hf", "sp-lmoe", "--experts", "8", "--top-k", "2", "--method", "random", "--target", "llama-moe",
            "--format", "safetensors", "--seed", "7", "--dtype", "bf16",
        ]),
        Command(output: "merged", arguments: ["merge-dense", "sp-lmoe", "merged"]),
    ]

    /// Outputs a later command reads; every other output is hashed and deleted at once to keep disk use low.
    static let inputs: Set<String> = ["hf", "sp-lmoe"]

    /// The golden hashes: output name → tensor name → "sha256-prefix:DTYPE".
    static func golden() throws -> [String: [String: String]] {
        let path = TestModels.repositoryRoot + "/Tests/CLITests/Fixtures/golden-smollm2-8ed503c.json"
        let json = try JSONParser.parse(try PathUtilities.readBytes(path))
        var result: [String: [String: String]] = [:]
        for (output, tensors) in (json.objectValue ?? JSONObject()).pairs {
            var hashes: [String: String] = [:]
            for (name, value) in (tensors.objectValue ?? JSONObject()).pairs { hashes[name] = value.stringValue }
            result[output] = hashes
        }
        return result
    }

    /// SHA-256 of `bytes` as the first 16 lowercase hex digits.
    static func hashPrefix(_ bytes: UnsafeRawBufferPointer) -> String {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize().prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// Tensor name → "sha256-prefix:DTYPE" of a GGUF file or of every `*.safetensors` file of a directory: the
    /// tensor data bytes as stored, independent of headers, metadata and manifests.
    static func tensorHashes(_ path: String) throws -> [String: String] {
        var hashes: [String: String] = [:]
        if path.hasSuffix(".gguf") {
            let file = try GGUFFile(path: path)
            for tensor in file.tensors { hashes[tensor.name] = hashPrefix(tensor.bytes) + ":" + tensor.encoding.description }
            return hashes
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".safetensors") }.sorted()
        #expect(!files.isEmpty, "\(path) holds no safetensors file")
        for name in files {
            let file = try SafetensorsFile(path: path + "/" + name)
            for tensor in file.tensors { hashes[tensor.name] = hashPrefix(tensor.bytes) + ":" + tensor.encoding.description }
        }
        return hashes
    }

    /// Compares one output's tensors with the golden ones. `merged` may lack the split's router tensors
    /// (`*.mlp.gate.*`): merge-dense is meant to drop them, the only intended difference.
    static func compare(_ output: String, _ actual: [String: String], _ expected: [String: String]) {
        let missing = Set(expected.keys).subtracting(actual.keys).filter { output != "merged" || !$0.contains(".mlp.gate.") }
        let extra = Set(actual.keys).subtracting(expected.keys)
        #expect(missing.isEmpty, "\(output): tensors missing: \(missing.sorted().prefix(8))")
        #expect(extra.isEmpty, "\(output): tensors not in the golden output: \(extra.sorted().prefix(8))")
        let changed = actual.keys.filter { expected[$0] != nil && expected[$0] != actual[$0] }.sorted()
        #expect(changed.isEmpty, "\(output): \(changed.count) tensors changed, e.g. \(changed.prefix(4).map { "\($0): \(actual[$0]!) ≠ \(expected[$0]!)" })")
    }

    @Test("convert, upcycle, split and merge-dense on SmolLM2 write tensors byte-identical to commit 8ed503c", .requiresSmolLM2)
    func tensorsMatchGolden() throws {
        let moekit = try CLITests.binary()
        let model = try TestModels.requireSmolLM2()
        let golden = try Self.golden()
        #expect(Set(golden.keys) == Set(Self.commands.map(\.output)))
        let tmp = TemporaryDirectory()
        for command in Self.commands {
            let arguments = command.arguments.map { argument in
                argument == "MODEL" ? model : Self.isPath(argument, in: command) ? tmp.file(argument) : argument
            }
            let (status, output) = try TestModels.run(moekit, arguments, environment: Self.blasEnvironment)
            try #require(status == 0, "moekit \(arguments.joined(separator: " ")): \(output)")
            let path = tmp.file(command.output)
            Self.compare(command.output, try Self.tensorHashes(path), golden[command.output] ?? [:])
            if !Self.inputs.contains(command.output) { try FileManager.default.removeItem(atPath: path) }
        }
    }

    /// The BLAS kernels the golden file was made with. Float sums, and with them the clustering split's k-means,
    /// depend on OpenBLAS's kernel: Haswell, Zen and SkylakeX kernels give the golden bytes, but OpenBLAS 0.3.21
    /// (Debian 12) does not know newer CPUs such as Intel family 6 model 207 (Emerald Rapids), falls back to its
    /// generic kernel (`openblas_get_corename()` = "Prescott"), and one near-tie in layer 16's clustering flips.
    /// `OPENBLAS_CORETYPE=Haswell` pins the kernel on every CPU with AVX2 and FMA (nil elsewhere: no pinning).
    static let blasEnvironment: [String: String]? = {
        guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let flags = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return nil }
        let names = Set(flags.split(separator: " ").map(String.init))
        return names.contains("avx2") && names.contains("fma") ? ["OPENBLAS_CORETYPE": "Haswell"] : nil
    }()

    /// Whether `argument` of `command` names a file in the work directory (an input or the output).
    static func isPath(_ argument: String, in command: Command) -> Bool {
        argument == command.output || inputs.contains(argument)
    }
}
