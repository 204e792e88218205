import Runtime
import TensorCore

/// Runs a dense model on calibration samples and records, per layer, what the data-driven methods read
/// (`LayerCalibration`): MLP inputs always, down-proj inputs and per-cluster importance on request.
///
/// Samples are grouped into `clusters` equal-size clusters by balanced k-means on each sample's mean final-layer MLP
/// input (L2-normalised) — our stand-in for LLaMA-MoE's sentence-embedding text clustering
/// (`smoe/entrypoint/text_clustering.py` in pjlab-sys4nlp/llama-moe); a
/// token's label is its sample's cluster (router `hidden` init, per-cluster importance).
public enum CalibrationCollector {
    /// - Parameters:
    ///   - model: the dense model.
    ///   - samples: equal-length token samples (`CalibrationSamples.make`), count a multiple of `clusters`.
    ///   - clusters: number of sample clusters (the number of routed experts for gradient/sharing/hidden methods).
    ///   - needs: what to record besides MLP inputs.
    ///   - seed: k-means seed.
    ///   - importance: computes per-layer neuron importance `[layers][I]` over a list of samples (the backward pass);
    ///     called once per cluster when `needs` contains `.importance`; its second argument reports how many of the
    ///     given samples are done (it may call it after each of its batches).
    ///   - progress: called after each forward sample and after each importance batch.
    /// - Returns: one record per layer.
    public static func collect(
        model: LanguageModel, samples: [[Int32]], clusters: Int, needs: CalibrationNeeds, seed: UInt64,
        importance: (([[Int32]], (Int) -> Void) throws -> [[Float]])? = nil,
        progress: CalibrationProgressHandler? = nil
    ) throws -> [LayerCalibration] {
        guard !samples.isEmpty, samples.count % clusters == 0 else {
            throw TransformError.emptyCalibration(what: "calibration samples (\(samples.count), need a multiple of \(clusters))")
        }
        let layers = model.config.layerCount, D = model.config.hiddenSize
        var inputs = [[Float]](repeating: [], count: layers)
        var activations = [[Float]](repeating: [], count: layers)
        var widths = [Int](repeating: 0, count: layers)
        var embeddings = [Float]()
        embeddings.reserveCapacity(samples.count * D)
        var tokensDone = 0
        for (index, sample) in samples.enumerated() {
            let probes = try model.probe(sample, activations: needs.contains(.activations))
            for (l, probe) in probes.enumerated() {
                inputs[l] += probe.mlpInputs.values
                if let a = probe.activations {
                    activations[l] += a.values
                    widths[l] = a.shape[1]
                }
            }
            embeddings += RowMath.meanOfRows(probes[layers - 1].mlpInputs.values, columns: D, rows: Array(0..<sample.count))
            tokensDone += sample.count
            progress?(CalibrationProgress(phase: .forward, samplesDone: index + 1, samplesTotal: samples.count, tokensDone: tokensDone))
        }
        let sampleLabels = clusters == 1
            ? [Int](repeating: 0, count: samples.count)
            : BalancedKMeans.cluster(
                rows: RowMath.normalizedRows(FloatTensor(shape: [samples.count, D], values: embeddings)),
                count: samples.count, dimension: D, clusters: clusters, seed: seed, maxIterations: 50)
        var tokenLabels = [Int]()
        for (s, sample) in samples.enumerated() { tokenLabels += [Int](repeating: sampleLabels[s], count: sample.count) }

        var importanceByLayer: [[[Float]]]? = nil
        if needs.contains(.importance) {
            guard let importance else { throw TransformError.emptyCalibration(what: "importance (no backward pass given)") }
            var table = [[[Float]]](repeating: [], count: layers)
            var samplesBefore = 0, tokensBefore = 0
            for c in 0..<clusters {
                let members = samples.indices.filter { sampleLabels[$0] == c }.map { samples[$0] }
                let memberTokens = members.map(\.count)
                let scores = try importance(members) { done in
                    progress?(CalibrationProgress(
                        phase: .importance, samplesDone: samplesBefore + done, samplesTotal: samples.count,
                        tokensDone: tokensBefore + memberTokens.prefix(done).reduce(0, +)))
                }
                samplesBefore += members.count
                tokensBefore += memberTokens.reduce(0, +)
                for l in 0..<layers { table[l].append(scores[l]) }
            }
            importanceByLayer = table
        }
        let T = tokenLabels.count
        return (0..<layers).map { l in
            LayerCalibration(
                mlpInputs: FloatTensor(shape: [T, D], values: inputs[l]),
                activations: widths[l] > 0 ? FloatTensor(shape: [T, widths[l]], values: activations[l]) : nil,
                importance: importanceByLayer?[l], tokenLabels: tokenLabels)
        }
    }
}
