import ArgumentParser
import Foundation
import IOCore
import TensorCore

/// Times `moekit split` and `moekit upcycle` (F16 safetensors out) on a synthetic LLaMA-7B-shaped checkpoint against
/// `cp -r` + `sync` of the very output they wrote, and reports peak RSS (issue 4's performance target: within 1.5× of
/// copying the output bytes, peak RSS under 2 GiB).
struct MoESevenB: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moe-7b",
        abstract: "Time split/upcycle of a synthetic LLaMA-7B-shaped F16 checkpoint against copying the output.",
        discussion: """
            Upcycling all 32 layers into 8 experts writes ~74 GB; use --layers to bound the disk (e.g. --layers 8 \
            for upcycle: ~19 GB out). Each step runs after a page-cache drop when permitted.
            """)

    @Option(help: "Work directory.")
    var directory: String

    @Option(help: "Layers of the synthetic checkpoint (32 for LLaMA-7B).")
    var layers = 32

    @Option(help: "Comma-separated: split, upcycle.")
    var operations = "split,upcycle"

    @Flag(help: "Keep the generated input checkpoint.")
    var keep = false

    func run() throws {
        let moekit = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("moekit").path
        guard FileManager.default.isExecutableFile(atPath: moekit) else { throw BenchError.notFound(moekit) }
        let hf = directory + "/hf-7b-\(layers)l"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: hf + "/config.json") {
            print("generating \(hf) …")
            try SyntheticLlama(layers: layers).write(to: hf)
        }
        var results: [(String, JSONValue)] = [("benchmark", .string("moe-7b")), ("layers", .integer(Int64(layers)))]
        for operation in operations.split(separator: ",").map(String.init) {
            let arguments: [String]
            switch operation {
            case "split": arguments = ["--experts", "16", "--top-k", "4", "--method", "random"]
            case "upcycle": arguments = ["--experts", "8", "--top-k", "2"]
            default: throw ValidationError("--operations: expected split or upcycle, found '\(operation)'")
            }
            let out = directory + "/\(operation)-out"
            try? FileManager.default.removeItem(atPath: out)
            MeasuredRun.dropPageCache()
            let run = try MeasuredRun.run(moekit, [operation, hf, out, "--dtype", "f16"] + arguments, quiet: true)
            guard run.status == 0 else { throw BenchError.commandFailed("moekit \(operation)", run.status) }
            let bytes = directoryBytes(out)
            MeasuredRun.dropPageCache()
            let copy = directory + "/\(operation)-copy"
            try? FileManager.default.removeItem(atPath: copy)
            let cp = try MeasuredRun.run("/bin/sh", ["-c", "cp -r '\(out)' '\(copy)' && sync"])
            try? FileManager.default.removeItem(atPath: copy)
            try? FileManager.default.removeItem(atPath: out)
            let ratio = run.wallSeconds / cp.wallSeconds
            print("\(operation) \(arguments.joined(separator: " ")): " + String(
                format: "%.1f s for %.2f GB out; cp -r + sync of the output %.1f s → %.2f× cp; peak RSS %.0f MiB",
                run.wallSeconds, Double(bytes) / 1e9, cp.wallSeconds, ratio, Double(run.peakRSSBytes) / 1048576))
            results.append((operation, .object(JSONObject([
                ("arguments", .array(arguments.map { .string($0) })), ("seconds", .number(run.wallSeconds)),
                ("output_bytes", .integer(Int64(bytes))), ("cp_seconds", .number(cp.wallSeconds)),
                ("ratio_to_cp", .number(ratio)), ("peak_rss_bytes", .integer(Int64(run.peakRSSBytes))),
            ]))))
        }
        print(JSONWriter.serialize(.object(JSONObject(results))))
        if !keep { try? FileManager.default.removeItem(atPath: hf) }
    }

    private func directoryBytes(_ path: String) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: path + "/" + $1)[.size] as? Int) ?? 0) }
    }
}
