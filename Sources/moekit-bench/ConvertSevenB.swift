import ArgumentParser
import Formats
import Foundation
import IOCore
import TensorCore

/// Generates a synthetic LLaMA-7B-shaped F16 sharded safetensors checkpoint, then times `cp` of its bytes and
/// `moekit convert` to GGUF F16 and back, reporting the ratio to `cp` and peak RSS, and checks the round trip is
/// byte-identical.
struct ConvertSevenB: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert-7b",
        abstract: "Time HF(F16, sharded) -> GGUF F16 -> HF on a synthetic LLaMA-7B-shaped checkpoint against cp.")

    @Option(help: "Work directory (needs ~45 GB free).")
    var directory: String

    @Option(help: "Layers (32 for LLaMA-7B; fewer for a quick run).")
    var layers = 32

    @Flag(help: "Keep the generated files.")
    var keep = false

    func run() throws {
        Matmul.useSingleThreadedBLAS()
        let hf = directory + "/hf-7b"
        let moekit = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("moekit").path
        guard FileManager.default.isExecutableFile(atPath: moekit) else { throw BenchError.notFound(moekit) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: hf + "/config.json") {
            print("generating \(hf) …")
            try SyntheticLlama(layers: layers).write(to: hf)
        }
        let shardBytes = try FileManager.default.contentsOfDirectory(atPath: hf).filter { $0.hasSuffix(".safetensors") }
            .reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: hf + "/" + $1)[.size] as? Int) ?? 0) }
        print("checkpoint: \(shardBytes) bytes of shards")

        MeasuredRun.dropPageCache()
        let copy = directory + "/cp-copy"
        try? FileManager.default.removeItem(atPath: copy)
        let cp = try MeasuredRun.run("/bin/sh", ["-c", "cp -r '\(hf)' '\(copy)' && sync"])
        try? FileManager.default.removeItem(atPath: copy)
        print(String(format: "cp -r + sync:          %.1f s", cp.wallSeconds))

        // Two rounds in opposite orders: a conversion that writes right after another one has written gigabytes
        // can spend several times longer in the kernel (copy_file_range into freshly written tmpfs or page cache),
        // whichever direction it is; each direction's time is the faster of its two runs.
        let gguf = directory + "/7b-f16.gguf", back = directory + "/hf-back"
        let gguf2 = directory + "/7b-f16-2.gguf", back2 = directory + "/hf-back-2"
        for path in [gguf, back, gguf2, back2] { try? FileManager.default.removeItem(atPath: path) }
        func convert(_ label: String, _ arguments: [String]) throws -> MeasuredRun {
            MeasuredRun.dropPageCache()
            let run = try MeasuredRun.run(moekit, ["convert"] + arguments, quiet: true)
            guard run.status == 0 else { throw BenchError.commandFailed("moekit convert (\(label))", run.status) }
            print(String(format: "%@ %.1f s (%.2f× cp), peak RSS %.0f MiB", label, run.wallSeconds, run.wallSeconds / cp.wallSeconds,
                Double(run.peakRSSBytes) / 1048576))
            return run
        }
        let toGGUF1 = try convert("HF → GGUF F16 (first):  ", [hf, gguf, "--to", "gguf", "--dtype", "f16", "--allow-no-vocab"])
        let toHF1 = try convert("GGUF → HF F16 (second): ", [gguf, back, "--to", "safetensors", "--dtype", "f16"])
        let toHF2 = try convert("GGUF → HF F16 (first):  ", [gguf, back2, "--to", "safetensors", "--dtype", "f16"])
        let toGGUF2 = try convert("HF → GGUF F16 (second): ", [hf, gguf2, "--to", "gguf", "--dtype", "f16", "--allow-no-vocab"])
        for path in [gguf2, back2] { try? FileManager.default.removeItem(atPath: path) }
        let toGGUF = toGGUF1.wallSeconds <= toGGUF2.wallSeconds ? toGGUF1 : toGGUF2
        let toHF = toHF1.wallSeconds <= toHF2.wallSeconds ? toHF1 : toHF2
        print(String(format: "HF → GGUF F16:         %.1f s (%.2f× cp); GGUF → HF F16: %.1f s (%.2f× cp) (faster of two runs)",
            toGGUF.wallSeconds, toGGUF.wallSeconds / cp.wallSeconds, toHF.wallSeconds, toHF.wallSeconds / cp.wallSeconds))

        let identical = try MeasuredRun.run("/bin/sh", ["-c", "for f in '\(hf)'/*.safetensors; do cmp -s \"$f\" '\(back)'/$(basename \"$f\") || exit 1; done"])
        print("round trip byte-identical: \(identical.status == 0)")
        let report = JSONValue.object(JSONObject([
            ("benchmark", .string("convert-7b")), ("layers", .integer(Int64(layers))), ("shard_bytes", .integer(Int64(shardBytes))),
            ("cp_s", .number(cp.wallSeconds)), ("to_gguf_s", .number(toGGUF.wallSeconds)), ("to_hf_s", .number(toHF.wallSeconds)),
            ("to_gguf_ratio", .number(toGGUF.wallSeconds / cp.wallSeconds)), ("to_hf_ratio", .number(toHF.wallSeconds / cp.wallSeconds)),
            ("to_gguf_peak_rss", .integer(Int64(toGGUF.peakRSSBytes))), ("to_hf_peak_rss", .integer(Int64(toHF.peakRSSBytes))),
            ("to_gguf_runs_s", .array([.number(toGGUF1.wallSeconds), .number(toGGUF2.wallSeconds)])),
            ("to_hf_runs_s", .array([.number(toHF1.wallSeconds), .number(toHF2.wallSeconds)])),
            ("byte_identical", .bool(identical.status == 0)),
        ]))
        print(JSONWriter.serialize(report))
        if !keep {
            for path in [hf, gguf, back] { try? FileManager.default.removeItem(atPath: path) }
        }
    }
}

/// A LLaMA-7B-shaped checkpoint (vocab 32000, hidden 4096, FFN 11008, 32 heads) filled with cheap pseudo-random
/// F16 values, written as 5 GB shards with moekit's own writer.
struct SyntheticLlama {
    var layers = 32
    let hidden = 4096, intermediate = 11008, vocabulary = 32000, heads = 32

    func write(to directory: String) throws {
        var shapes: [(String, [Int])] = [("model.embed_tokens.weight", [vocabulary, hidden])]
        for l in 0..<layers {
            let p = "model.layers.\(l)."
            shapes += [
                (p + "self_attn.q_proj.weight", [hidden, hidden]), (p + "self_attn.k_proj.weight", [hidden, hidden]),
                (p + "self_attn.v_proj.weight", [hidden, hidden]), (p + "self_attn.o_proj.weight", [hidden, hidden]),
                (p + "mlp.gate_proj.weight", [intermediate, hidden]), (p + "mlp.up_proj.weight", [intermediate, hidden]),
                (p + "mlp.down_proj.weight", [hidden, intermediate]),
                (p + "input_layernorm.weight", [hidden]), (p + "post_attention_layernorm.weight", [hidden]),
            ]
        }
        shapes += [("model.norm.weight", [hidden]), ("lm_head.weight", [vocabulary, hidden])]
        // One 4 MiB block of random halves, written repeatedly at a tensor-dependent rotation.
        var state: UInt64 = 0x1234_5678
        let pattern: [UInt16] = (0..<(2 << 20)).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return HalfPrecision.floatToF16(Float(Int64(state >> 40) - (1 << 23)) / Float(1 << 23) * 0.05)
        }
        let tensors = shapes.enumerated().map { index, entry in
            let bytes = entry.1.reduce(1, *) * 2
            return OutputTensor(name: entry.0, shape: entry.1, encoding: .dense(.f16), byteCount: bytes) { writer in
                try pattern.withUnsafeBytes { block in
                    var written = 0
                    var offset = (index * 4099 * 2) % block.count
                    while written < bytes {
                        let n = min(bytes - written, block.count - offset)
                        try writer.write(UnsafeRawBufferPointer(rebasing: block[offset..<(offset + n)]))
                        written += n
                        offset = 0
                    }
                }
            }
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try ShardedSafetensorsWriter.write(directory: directory, tensors: tensors, maxShardSize: 5_000_000_000)
        let config = JSONValue.object(JSONObject([
            ("architectures", .array([.string("LlamaForCausalLM")])), ("model_type", .string("llama")),
            ("hidden_size", .integer(Int64(hidden))), ("intermediate_size", .integer(Int64(intermediate))),
            ("num_hidden_layers", .integer(Int64(layers))), ("num_attention_heads", .integer(Int64(heads))),
            ("num_key_value_heads", .integer(Int64(heads))), ("max_position_embeddings", .integer(4096)),
            ("rms_norm_eps", .number(1e-5)), ("rope_theta", .number(10000.0)), ("vocab_size", .integer(Int64(vocabulary))),
            ("tie_word_embeddings", .bool(false)), ("torch_dtype", .string("float16")),
        ]))
        try AtomicFileWriter.write(JSONWriter.bytes(config, indent: 2), to: directory + "/config.json")
    }
}
