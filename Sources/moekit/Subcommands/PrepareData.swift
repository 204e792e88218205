import ArgumentParser
import Conversion
import Formats
import Foundation
import IOCore
import TensorCore
import TrainingData

#if canImport(Glibc)
import Glibc
#endif

extension MoekitCommand {
    /// `moekit prepare-data INPUT... --tokenizer MODEL --out DIR`.
    struct PrepareData: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prepare-data",
            abstract: "Tokenise corpora into per-domain Megatron-LM indexed datasets (training and held-out validation).",
            discussion: """
                INPUT is a JSON Lines file (one object per line, the text in --text-field), optionally gzip-compressed, or
                a plain-text file (.txt/.text, optionally .gz) whose documents are separated by blank lines. Each file is
                one domain, named after the file (data/book.jsonl.gz → book) or as name=path; with --domain-field each
                line names its domain instead. Documents are tokenised with MODEL's tokenizer (BOS when the tokenizer
                adds it, EOS after each document), in input order, on all cores. A stable hash of each document's text
                holds out --val-fraction of every domain (at least --val-min-docs documents) for validation.
                DIR receives DOMAIN_train.{bin,idx} and DOMAIN_validation.{bin,idx} (Megatron-LM MMIDIDX; uint16 ids when
                the vocabulary has under 65,500 entries, else int32) and index.json; it is written to a temporary
                directory and renamed into place, and re-running on the same inputs gives byte-identical files.
                """)

        @Argument(help: "Input files: PATH or NAME=PATH (.jsonl, .jsonl.gz, .txt, .txt.gz).")
        var inputs: [String]

        @Option(help: "Model whose tokenizer to use: a .gguf file or a Hugging Face model directory.")
        var tokenizer: String

        @Option(help: "Output data directory (must not exist unless --force).")
        var out: String

        @Option(help: "JSON field holding the document text.")
        var textField = "text"

        @Option(help: "JSON field naming each document's domain (instead of one domain per file).")
        var domainField: String?

        @Option(help: "Fraction of each domain's documents held out for validation, chosen by a hash of the text.")
        var valFraction = 0.01

        @Option(help: "Minimum validation documents per domain (at least one document stays in training).")
        var valMinDocs = 16

        @Flag(help: "Skip (and count) JSONL lines that are not objects, lack the text field or are not valid UTF-8.")
        var skipBadLines = false

        @Flag(help: "Replace an existing output directory.")
        var force = false

        @Option(help: "Append JSONL progress records to this file (schema Schemas/prepare-data-log.schema.json).")
        var log: String?

        @Option(help: "Tokenizer threads (default: all cores).")
        var threads: Int?

        @Flag(help: "Print the resulting index.json instead of a summary.")
        var json = false

        @Option(help: recipesOptionHelp)
        var recipes: String?

        func validate() throws {
            guard !inputs.isEmpty else { throw ValidationError("give at least one input file") }
            if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        }

        /// The tokenizer of `path` alone: a GGUF file's tokenizer metadata is read directly (no architecture
        /// recipes, config or tensor table, which prepare-data does not use); a Hugging Face directory goes
        /// through `ModelSource`.
        static func tokenizerData(_ path: String, recipes: String?) throws -> TokenizerData? {
            if !PathUtilities.isDirectory(path), try CheckpointInspection.isGGUF(path) {
                let gguf = try GGUFFile(path: path)
                return try TokenizerData(gguf: gguf.metadata, path: path)
            }
            return try ModelSource.open(path, recipesDirectory: recipes).tokenizer
        }

        func run() throws {
            let index = try reportingErrors { () throws -> DataIndex in
                let parsed = try inputs.map { try CorpusInput.parse($0, usesDomainField: domainField != nil) }
                let paths = parsed.map(\.path)
                if let duplicate = paths.first(where: { path in paths.filter { $0 == path }.count > 1 }) {
                    throw TrainingDataError.invalidOption("\(duplicate) is given twice")
                }
                guard let data = try Self.tokenizerData(tokenizer, recipes: recipes) else {
                    throw ModelCommandError.noTokenizer(path: tokenizer)
                }
                var options = DataPreparationOptions(inputs: parsed, output: out)
                options.textField = textField
                options.domainField = domainField
                options.validationFraction = valFraction
                options.validationMinimumDocuments = valMinDocs
                options.skipBadLines = skipBadLines
                options.force = force
                if let threads { options.workers = threads }
                let reporter = try PrepareDataProgress(logPath: log)
                let index = try DataPreparation.run(
                    options, tokenizerData: data, progress: reporter.report, warning: { printError("warning: \($0)") })
                reporter.finish(index)
                return index
            }
            if json {
                print(String(decoding: try index.encoded(), as: UTF8.self), terminator: "")
            } else {
                print("\(out): \(index.domains.count) domains, \(index.documents) documents, \(index.tokens) tokens (\(index.dtype))")
                for domain in index.domains {
                    print("  \(domain.name): train \(domain.train.documents) documents / \(domain.train.tokens) tokens, validation \(domain.validation.documents) / \(domain.validation.tokens)")
                }
            }
        }
    }
}

/// Progress lines on stderr (at most every half second) and JSONL records for `prepare-data`.
final class PrepareDataProgress {
    private let log: ProgressLog?
    private var lastPrint = Date.distantPast
    private var last: DataPreparationProgress?

    init(logPath: String?) throws {
        log = try ProgressLog.open(logPath)
    }

    func report(_ progress: DataPreparationProgress) {
        last = progress
        write(progress, event: "progress")
        guard Date().timeIntervalSince(lastPrint) >= 0.5 else { return }
        lastPrint = Date()
        let seconds = max(progress.elapsedSeconds, 1e-9)
        printError(String(
            format: "prepare-data [%d/%d] %@  %d documents  %d tokens  %@  %.2f M tokens/s  %.2f MB/s",
            progress.inputNumber, progress.inputCount, progress.input, progress.documents, progress.tokens,
            ProgressReporter.bytes(progress.textBytes), Double(progress.tokens) / seconds / 1e6,
            Double(progress.textBytes) / seconds / 1e6))
    }

    func finish(_ index: DataIndex) {
        guard var progress = last else { return }
        progress.documents = index.documents
        progress.tokens = index.tokens
        write(progress, event: "done", peakRSS: Self.peakResidentBytes(), cpuSeconds: Self.cpuSeconds())
    }

    /// User + system CPU time of this process so far.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// This process's peak resident memory (`VmHWM` of /proc/self/status). Unlike `ru_maxrss`, it does not
    /// inherit the spawning process's peak across `posix_spawn`/`execve`.
    static func peakResidentBytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int(line.split(separator: " ").dropFirst().first { !$0.isEmpty } ?? "")
        else { return nil }
        return kilobytes * 1024
    }

    private func write(_ progress: DataPreparationProgress, event: String, peakRSS: Int? = nil, cpuSeconds: Double? = nil) {
        guard let log else { return }
        let seconds = max(progress.elapsedSeconds, 1e-9)
        log.append(event: event, [
            ("input", .string(progress.input)), ("input_number", .integer(Int64(progress.inputNumber))),
            ("inputs_total", .integer(Int64(progress.inputCount))), ("documents", .integer(Int64(progress.documents))),
            ("tokens", .integer(Int64(progress.tokens))), ("text_bytes", .integer(Int64(progress.textBytes))),
            ("elapsed_s", .number((progress.elapsedSeconds * 1000).rounded() / 1000)),
            ("tokens_per_s", .number((Double(progress.tokens) / seconds).rounded())),
            ("bytes_per_s", .number((Double(progress.textBytes) / seconds).rounded())),
        ] + (peakRSS.map { [("peak_rss_bytes", JSONValue.integer(Int64($0)))] } ?? [])
            + (cpuSeconds.map { [("cpu_s", JSONValue.number(($0 * 1000).rounded() / 1000))] } ?? []))
    }
}
