import Formats
import Foundation
import IOCore

/// Llama 3.x RoPE frequency scaling in the two forms runtimes read it:
/// - transformers' `rope_scaling` / `rope_parameters` (`rope_type: llama3`, `factor`, `low_freq_factor`,
///   `high_freq_factor`, `original_max_position_embeddings`; `_compute_llama3_parameters` in
///   `modeling_rope_utils.py`);
/// - llama.cpp's `rope_freqs.weight`: one divisor per frequency, inv_freq[i] / factors[i]
///   (`LlamaModel.generate_extra_tensors` in `convert_hf_to_gguf.py`).
///
/// GGUF has no keys for the four parameters, so `convert` also writes them under `moekit.rope_scaling.*` and reads
/// them back; a GGUF without them (made by llama.cpp) is recovered from the divisors when they determine it.
public struct Llama3RopeScaling: Sendable, Equatable {
    public var factor: Double
    public var lowFrequencyFactor: Double
    public var highFrequencyFactor: Double
    public var originalContext: Int

    /// GGUF metadata keys of the parameters (moekit's own namespace; llama.cpp ignores them).
    public static let factorKey = "moekit.rope_scaling.factor"
    public static let lowFrequencyFactorKey = "moekit.rope_scaling.low_freq_factor"
    public static let highFrequencyFactorKey = "moekit.rope_scaling.high_freq_factor"
    public static let originalContextKey = "moekit.rope_scaling.original_max_position_embeddings"
    /// llama.cpp's tensor of per-frequency divisors.
    public static let tensorName = "rope_freqs.weight"

    public init(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalContext: Int) {
        self.factor = factor
        self.lowFrequencyFactor = lowFrequencyFactor
        self.highFrequencyFactor = highFrequencyFactor
        self.originalContext = originalContext
    }

    /// The parameters of an HF `rope_scaling` object with `rope_type` llama3 (transformers' defaults for absent
    /// keys: factor 8, low 1, high 4, original context 8192).
    /// - Throws: `ConversionError.invalidConfigValue` naming the field when a value is not a positive number or
    ///   low ≥ high.
    public init(json scaling: JSONObject, configPath: String) throws {
        func number(_ key: String, _ fallback: Double) throws -> Double {
            guard let value = scaling[key], value != .null else { return fallback }
            guard let double = value.doubleValue, double > 0, double.isFinite else {
                throw ConversionError.invalidConfigValue(
                    path: configPath, field: "rope_scaling.\(key)", expected: "a positive number", found: JSONWriter.serialize(value))
            }
            return double
        }
        factor = try number("factor", 8)
        lowFrequencyFactor = try number("low_freq_factor", 1)
        highFrequencyFactor = try number("high_freq_factor", 4)
        originalContext = Int(try number("original_max_position_embeddings", 8192))
        guard lowFrequencyFactor < highFrequencyFactor else {
            throw ConversionError.invalidConfigValue(
                path: configPath, field: "rope_scaling.high_freq_factor", expected: "greater than low_freq_factor (\(lowFrequencyFactor))",
                found: "\(highFrequencyFactor)")
        }
    }

    /// The HF `rope_scaling` object.
    public var json: JSONObject {
        JSONObject([
            ("rope_type", .string("llama3")), ("factor", .number(factor)), ("low_freq_factor", .number(lowFrequencyFactor)),
            ("high_freq_factor", .number(highFrequencyFactor)), ("original_max_position_embeddings", .integer(Int64(originalContext))),
        ])
    }

    /// The four parameters as GGUF metadata.
    public var ggufPairs: [(String, GGUFValue)] {
        [
            (Self.factorKey, .float32(Float(factor))), (Self.lowFrequencyFactorKey, .float32(Float(lowFrequencyFactor))),
            (Self.highFrequencyFactorKey, .float32(Float(highFrequencyFactor))),
            (Self.originalContextKey, .uint32(UInt32(clamping: originalContext))),
        ]
    }

    /// The parameters from moekit's GGUF keys, nil when the file has none of them.
    public init?(gguf metadata: GGUFMetadata) {
        guard let factor = metadata[Self.factorKey]?.doubleValue, let low = metadata[Self.lowFrequencyFactorKey]?.doubleValue,
            let high = metadata[Self.highFrequencyFactorKey]?.doubleValue,
            let original = metadata[Self.originalContextKey]?.intValue
        else { return nil }
        // Float32 in the file: the shortest decimal that reads back to the same float is what the user wrote.
        func decimal(_ x: Double) -> Double { Double(String(Float(x))) ?? x }
        self.init(factor: decimal(factor), lowFrequencyFactor: decimal(low), highFrequencyFactor: decimal(high), originalContext: Int(original))
    }

    /// llama.cpp's divisors for RoPE base `theta` and head width `headDim` (one per frequency pair), computed as
    /// `convert_hf_to_gguf.py` does (float32 frequencies, Python float arithmetic).
    public func frequencyFactors(theta: Double, headDim: Int) -> [Float] {
        let lowWavelength = Double(originalContext) / lowFrequencyFactor
        let highWavelength = Double(originalContext) / highFrequencyFactor
        return (0..<(headDim / 2)).map { i in
            let frequency = Double(1 / Float(pow(theta, Double(Float(2 * i) / Float(headDim)))))
            let wavelength = 2 * Double.pi / frequency
            if wavelength < highWavelength { return 1 }
            if wavelength > lowWavelength { return Float(factor) }
            let smooth = (Double(originalContext) / wavelength - lowFrequencyFactor) / (highFrequencyFactor - lowFrequencyFactor)
            return Float(1 / ((1 - smooth) / factor + smooth))
        }
    }

    /// Recovers the parameters from llama.cpp's divisors.
    ///
    /// In the smooth band 1/f = (1 − s)/factor + s with s = (original/λ − low)/(high − low), so s is linear in 1/λ:
    /// s = A/λ − B with A = original/(high − low), B = low/(high − low). Any (original, low, high) with the same A and
    /// B gives the same frequencies; the fit takes low = 1 (every Llama 3.x release), so high = 1 + 1/B and
    /// original = A/B.
    /// - Returns: nil when the divisors do not determine the parameters (fewer than two frequencies in the smooth
    ///   band, or a fit that is not a valid configuration).
    public static func fit(factors: [Float], theta: Double, headDim: Int) -> Llama3RopeScaling? {
        guard let factor = factors.max().map(Double.init), factor > 1 else { return nil }
        var points: [(inverseWavelength: Double, smooth: Double)] = []
        for (i, f) in factors.enumerated() where f > 1.0001 && Double(f) < factor * 0.9999 {
            let frequency = Double(1 / Float(pow(theta, Double(Float(2 * i) / Float(headDim)))))
            let smooth = (1 / Double(f) - 1 / factor) / (1 - 1 / factor)
            points.append((frequency / (2 * Double.pi), smooth))
        }
        guard points.count >= 2 else { return nil }
        // Least squares for smooth = A·x − B.
        let n = Double(points.count)
        let sx = points.reduce(0) { $0 + $1.inverseWavelength }, sy = points.reduce(0) { $0 + $1.smooth }
        let sxx = points.reduce(0) { $0 + $1.inverseWavelength * $1.inverseWavelength }
        let sxy = points.reduce(0) { $0 + $1.inverseWavelength * $1.smooth }
        let denominator = n * sxx - sx * sx
        guard denominator != 0 else { return nil }
        let a = (n * sxy - sx * sy) / denominator
        let b = -(sy - a * sx) / n
        guard a > 0, b > 0 else { return nil }
        let high = 1 + 1 / b, original = a / b
        func rounded(_ x: Double) -> Double { (x * 1e4).rounded() / 1e4 }
        let scaling = Llama3RopeScaling(
            factor: rounded(factor), lowFrequencyFactor: 1, highFrequencyFactor: rounded(high), originalContext: Int(original.rounded()))
        // Accept only a fit that reproduces the file's divisors.
        let again = scaling.frequencyFactors(theta: theta, headDim: headDim)
        guard zip(again, factors).allSatisfy({ abs($0 - $1) <= 1e-4 * max(1, abs($1)) }) else { return nil }
        return scaling
    }
}
