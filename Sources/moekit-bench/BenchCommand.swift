import ArgumentParser
import Foundation

/// Benchmarks for moekit's speed and memory targets, run with `swift run -c release moekit-bench …`.
@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moekit-bench",
        abstract: "moekit benchmarks (wall time and peak RSS of real commands).",
        subcommands: [ConvertSevenB.self, Sgemm.self, TokenizeBench.self, LogitsBench.self, BackwardBench.self, MoESevenB.self, SHA256Bench.self, GzipBench.self, PrepareDataBench.self, TrainBench.self]
    )
}
