/// Cuts tokenised calibration documents into equal-length samples, the unit that calibration clustering groups.
public enum CalibrationSamples {
    /// Samples of one length, together at most `maxTokens` tokens, their count a multiple of `clusters`.
    ///
    /// The sample length is `maxTokens / (4 · clusters)` clamped to 16…512 (and to `contextLimit`), so balanced
    /// clustering into `clusters` groups has about four samples per group; each document is cut into consecutive
    /// pieces of that length and a shorter tail is dropped.
    /// - Throws: `TransformError.emptyCalibration` when the documents hold fewer than `clusters` samples.
    public static func make(
        documents: [[Int32]], maxTokens: Int, clusters: Int, contextLimit: Int
    ) throws(TransformError) -> [[Int32]] {
        guard maxTokens >= 1 else { throw .nonPositive(name: "calibration tokens", value: maxTokens) }
        guard clusters >= 1 else { throw .nonPositive(name: "calibration clusters", value: clusters) }
        let length = min(max(16, maxTokens / (4 * clusters)), 512, max(1, contextLimit))
        var samples: [[Int32]] = []
        var total = 0
        outer: for document in documents {
            var start = 0
            while start + length <= document.count {
                guard total + length <= max(maxTokens, length * clusters) else { break outer }
                samples.append(Array(document[start..<(start + length)]))
                total += length
                start += length
            }
        }
        let usable = samples.count - samples.count % clusters
        guard usable >= clusters, usable > 0 else {
            throw .emptyCalibration(
                what: "calibration text (\(samples.count) sample(s) of \(length) tokens; \(clusters) needed — give more text or fewer --calibration-tokens per cluster)")
        }
        return Array(samples.prefix(usable))
    }
}
