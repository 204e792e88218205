import Foundation
import Runtime
import Tokenizer

/// Evaluates tasks on one model: reads data, builds lm-eval-style prompts, tokenises, schedules requests on the
/// scorer and aggregates metrics.
///
/// Length rule: the scorer accepts `contextLength` tokens of context + continuation, i.e. lm-eval's
/// `max_length` = `contextLength − 1` input positions. Longer requests are left-truncated
/// (`ScoringRequest.truncated(toFit:)`); rolling documents use windows of `contextLength − 1` predicted tokens.
public final class EvaluationHarness {
    /// The model.
    public var scorer: any TokenScorer { scorers[0] }
    /// One scorer per worker (`RequestScheduler(scorers:)`); one means contexts are scored one at a time.
    public let scorers: [any TokenScorer]
    /// The model's tokenizer.
    public let tokenizer: any TextTokenizer
    /// Run settings.
    public let options: EvaluationOptions

    public convenience init(scorer: any TokenScorer, tokenizer: any TextTokenizer, options: EvaluationOptions = EvaluationOptions()) {
        self.init(scorers: [scorer], tokenizer: tokenizer, options: options)
    }

    /// A harness that scores contexts on `scorers.count` workers, one scorer each (the same model, separate caches
    /// and scratch). Results equal those of a one-scorer harness.
    /// - Precondition: `scorers` is not empty.
    public init(scorers: [any TokenScorer], tokenizer: any TextTokenizer, options: EvaluationOptions = EvaluationOptions()) {
        precondition(!scorers.isEmpty, "EvaluationHarness needs at least one scorer")
        self.scorers = scorers
        self.tokenizer = tokenizer
        self.options = options
    }

    /// lm-eval's `max_length`: model input positions per request.
    public var maxLength: Int { max(1, scorer.contextLength - 1) }

    /// Evaluates one task.
    /// - Parameters:
    ///   - task: a loaded task.
    ///   - progress: called after each scorer call.
    /// - Returns: aggregated metrics and per-item outcomes.
    /// - Throws: `EvaluationError` for data problems (file, line, field named) and bad options; scorer errors pass
    ///   through unchanged.
    public func evaluate(_ task: TaskDefinition, progress: ((EvaluationProgress) -> Void)? = nil) throws -> TaskResult {
        if let limit = options.limit, limit < 1 { throw EvaluationError.invalidOption("--limit must be at least 1, got \(limit)") }
        if let shots = options.numFewShot, shots < 0 {
            throw EvaluationError.invalidOption("--num-fewshot must be non-negative, got \(shots)")
        }
        let path = try task.dataPath(dataDirectory: options.dataDirectory)
        let documents = try TaskDataReader.read(task, path: path)
        if let fraction = options.limitFraction, !(fraction > 0 && fraction < 1) {
            throw EvaluationError.invalidOption("--limit fraction must lie strictly between 0 and 1, got \(fraction)")
        }
        let effective = options.effectiveCount(documents.count)
        let shots = task.outputType == .loglikelihoodRolling ? 0 : (options.numFewShot ?? task.fewShot.count)
        let seed = options.seed ?? task.fewShot.seed
        let builder = PromptBuilder(task: task, documents: documents, shots: shots, seed: seed)
        let encoder = RequestEncoder(tokenizer: tokenizer, addBOS: options.addBOS)

        var textRequests: [[TextRequest]] = []
        var ranges: [Range<Int>] = []
        var requests: [ScoringRequest] = []
        for index in 0..<effective {
            let start = requests.count
            if case .text(let text) = documents[index].content {
                textRequests.append([])
                requests += RollingWindows.windows(encoder.encodeDocument(text), prefix: encoder.prefixToken, maxLength: maxLength)
            } else {
                let items = try builder.requests(for: index)
                textRequests.append(items)
                requests += items.map { encoder.encode(context: $0.context, continuation: $0.continuation) }
            }
            ranges.append(start..<requests.count)
        }

        let started = Date()
        let scores = try RequestScheduler(scorers: scorers).run(requests) { fraction in
            progress?(EvaluationProgress(task: task.name, itemsTotal: effective, fraction: fraction, elapsed: Date().timeIntervalSince(started)))
        }
        let seconds = Date().timeIntervalSince(started)

        var items: [ItemOutcome] = []
        for index in 0..<effective {
            let itemScores = Array(scores[ranges[index]])
            items.append(Self.outcome(index: index, document: documents[index], requests: textRequests[index], scores: itemScores, task: task))
        }
        return TaskResult(
            task: task, dataPath: path, shots: shots, seed: seed, originalCount: documents.count, effectiveCount: effective,
            metrics: aggregate(task, items), items: items, seconds: seconds)
    }

    /// Per-item metric values from the item's scores (`lm_eval/api/task.py` `process_results`).
    static func outcome(index: Int, document: TaskDocument, requests: [TextRequest], scores: [ContinuationScore], task: TaskDefinition)
        -> ItemOutcome
    {
        var values: [TaskMetric: Double] = [:]
        switch document.content {
        case .choices(let choices, let gold), .contextOptions(let choices, _, let gold):
            // For partial scoring lm-eval's `doc_to_choice` is the list of context options, so acc_norm divides by
            // their lengths (the argmax is unchanged when the continuation is shared and lengths are equal).
            let lls = scores.map(\.logLikelihood)
            let characters = choices.map { Double($0.unicodeScalars.count) }
            let bytes = choices.map { Double($0.utf8.count) }
            for metric in task.metrics {
                switch metric {
                case .acc: values[.acc] = argmax(lls) == gold ? 1 : 0
                case .accNorm: values[.accNorm] = argmax(zip(lls, characters).map { $0 / $1 }) == gold ? 1 : 0
                case .accBytes: values[.accBytes] = argmax(zip(lls, bytes).map { $0 / $1 }) == gold ? 1 : 0
                default: break
                }
            }
            return ItemOutcome(index: index, document: document, requests: requests, scores: scores, metrics: values)
        case .target:
            let score = scores.first
            values[.acc] = score?.isGreedy == true ? 1 : 0
            values[.perplexity] = score?.logLikelihood ?? 0
            return ItemOutcome(index: index, document: document, requests: requests, scores: scores, metrics: values)
        case .text(let text):
            let ll = scores.reduce(0) { $0 + $1.logLikelihood }
            return ItemOutcome(
                index: index, document: document, requests: requests, scores: scores, metrics: [:],
                rolling: (ll, MetricAggregation.wordCount(text), text.utf8.count))
        }
    }

    /// numpy's argmax: the first maximal index.
    static func argmax(_ values: [Double]) -> Int {
        var best = 0
        for i in values.indices.dropFirst() where values[i] > values[best] { best = i }
        return best
    }

    /// Aggregates per-item values into the task's metrics with lm-eval's standard errors.
    func aggregate(_ task: TaskDefinition, _ items: [ItemOutcome]) -> [MetricResult] {
        task.metrics.map { metric in
            switch metric {
            case .acc, .accNorm, .accBytes:
                let values = items.map { $0.metrics[metric] ?? 0 }
                return MetricResult(metric: metric, value: MetricAggregation.mean(values), standardError: MetricAggregation.meanStandardError(values))
            case .perplexity:
                let lls = items.map { $0.metrics[.perplexity] ?? 0 }
                let stderr = MetricAggregation.bootstrapStandardError(lls, iterations: options.bootstrapIterations, statistic: MetricAggregation.perplexity)
                return MetricResult(metric: metric, value: MetricAggregation.perplexity(lls), standardError: stderr)
            case .wordPerplexity:
                let pairs = items.compactMap { $0.rolling.map { ($0.logLikelihood, $0.words) } }
                return MetricResult(metric: metric, value: MetricAggregation.weightedPerplexity(pairs), standardError: nil)
            case .bytePerplexity:
                let pairs = items.compactMap { $0.rolling.map { ($0.logLikelihood, $0.bytes) } }
                return MetricResult(metric: metric, value: MetricAggregation.weightedPerplexity(pairs), standardError: nil)
            case .bitsPerByte:
                let pairs = items.compactMap { $0.rolling.map { ($0.logLikelihood, $0.bytes) } }
                return MetricResult(metric: metric, value: MetricAggregation.bitsPerByte(pairs), standardError: nil)
            }
        }
    }
}
