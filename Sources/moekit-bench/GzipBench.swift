import ArgumentParser
import CPlatform
import CZlib
import Foundation
import IOCore

/// The input path's C kernels against zlib on the same data: gzip decoding (`moekit_gzip_read` vs `gzread`), CRC-32
/// (`moekit_crc32` vs `crc32_z`), and the throughput of XXH64 and UTF-8 validation, single-threaded.
struct GzipBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gzip", abstract: "Measure gzip decoding and CRC-32 against zlib, XXH64 and UTF-8 validation (GB/s).")

    @Option(help: "Corpus files whose texts are repeated into the test data (default: ../shared/data/corpus/*.jsonl.gz).")
    var corpus: [String] = []

    @Option(help: "Size of the test data in MB (JSONL, compressed with zlib level 1).")
    var megabytes = 200

    @Option(help: "Repetitions of each measurement (the best is reported).")
    var repeats = 3

    func run() throws {
        let files = corpus.isEmpty ? try TokenizeBench.defaultCorpus() : corpus
        var texts: [String] = []
        for file in files { texts += try JSONLReader.strings(field: "text", in: file) }
        let path = NSTemporaryDirectory() + "moekit-bench-gzip-\(getpid()).jsonl.gz"
        defer { unlink(path) }
        let (bytes, _) = try PrepareDataBench.generate(path: path, from: texts, targetBytes: megabytes * 1_000_000, sampleBytes: 0)
        let plain = try Self.decodeWithZlib(path)
        guard plain.count == bytes else { throw BenchError.commandFailed("zlib decoded \(plain.count) of \(bytes) bytes", 1) }
        print(String(format: "data: %.1f MB JSONL (the corpus repeated), gzip level 1", Double(bytes) / 1e6))

        let zlibTime = try best { _ = try Self.decodeWithZlib(path) }
        var ours: [UInt8] = []
        let oursTime = try best { ours = try Self.decodeWithReader(path) }
        guard ours == plain else { throw BenchError.commandFailed("moekit_gzip_read and gzread disagree", 1) }
        report("gzip decoding", bytes, ours: oursTime, zlib: zlibTime)

        var crcOurs: UInt32 = 0, crcZlib: UInt32 = 0
        let crcOursTime = try best { crcOurs = plain.withUnsafeBufferPointer { moekit_crc32(0, $0.baseAddress, $0.count) } }
        let crcZlibTime = try best { crcZlib = plain.withUnsafeBufferPointer { UInt32(crc32_z(0, $0.baseAddress, $0.count)) } }
        guard crcOurs == crcZlib else { throw BenchError.commandFailed("CRC-32 differs from zlib's", 1) }
        report("CRC-32", bytes, ours: crcOursTime, zlib: crcZlibTime)

        var hash: UInt64 = 0, valid: Int32 = 0
        let hashTime = try best { hash = plain.withUnsafeBufferPointer { moekit_xxh64($0.baseAddress, $0.count, 0) } }
        let validTime = try best { valid = plain.withUnsafeBufferPointer { moekit_utf8_valid($0.baseAddress, $0.count) } }
        guard valid == 1 else { throw BenchError.commandFailed("the generated JSONL is not valid UTF-8", 1) }
        print(String(format: "XXH64: %.2f GB/s (%016llx); UTF-8 validation: %.2f GB/s",
            Double(bytes) / hashTime / 1e9, hash, Double(bytes) / validTime / 1e9))
    }

    private func best(_ body: () throws -> Void) throws -> Double {
        var fastest = Double.infinity
        for _ in 0..<max(1, repeats) {
            let start = Date()
            try body()
            fastest = min(fastest, Date().timeIntervalSince(start))
        }
        return fastest
    }

    private func report(_ name: String, _ bytes: Int, ours: Double, zlib: Double) {
        print(String(format: "%@: moekit %.3f s = %.2f GB/s, zlib %.3f s = %.2f GB/s → %.2f×", name, ours,
            Double(bytes) / ours / 1e9, zlib, Double(bytes) / zlib / 1e9, zlib / ours))
    }

    static func decodeWithZlib(_ path: String) throws -> [UInt8] {
        guard let file = gzopen(path, "rb") else { throw BenchError.notFound(path) }
        defer { gzclose(file) }
        gzbuffer(file, 1 << 17)
        var out: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            guard n >= 0 else { throw BenchError.commandFailed("gzread", n) }
            if n == 0 { return out }
            out.append(contentsOf: buffer[0..<Int(n)])
        }
    }

    static func decodeWithReader(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0, let reader = moekit_gzip_open(fd) else { throw BenchError.notFound(path) }
        defer {
            moekit_gzip_close(reader)
            close(fd)
        }
        var out: [UInt8] = []
        while true {
            var data: UnsafePointer<UInt8>?
            let n = moekit_gzip_read(reader, &data)
            guard n >= 0 else { throw BenchError.commandFailed(String(cString: moekit_gzip_error(reader)), 1) }
            if n == 0 { return out }
            out.append(contentsOf: UnsafeBufferPointer(start: data, count: n))
        }
    }
}
