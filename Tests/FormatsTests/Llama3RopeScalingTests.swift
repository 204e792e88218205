import Conversion
import Foundation
import IOCore
import Testing

/// llama3 RoPE scaling between transformers' parameters and llama.cpp's `rope_freqs.weight` divisors.
@Suite("Llama 3 RoPE scaling")
struct Llama3RopeScalingTests {
    /// Llama 3.1 8B: theta 500000, head_dim 128, factor 8, low 1, high 4, original context 8192.
    static let llama31 = Llama3RopeScaling(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 8192)

    @Test("Divisors equal convert_hf_to_gguf.py's for Llama 3.1 (values computed with its formula in numpy)")
    func divisors() {
        let factors = Self.llama31.frequencyFactors(theta: 500_000, headDim: 128)
        #expect(factors.count == 64)
        // Frequencies 0…28 keep their value, 35…63 are divided by the factor, 29…34 are in the smoothing band.
        #expect(factors[0..<29].allSatisfy { $0 == 1 })
        #expect(factors[35..<64].allSatisfy { $0 == 8 })
        let band: [Float] = [1.2074838876724243, 1.5534145832061768, 2.026313066482544, 2.6945300102233887, 3.684253215789795, 5.257327079772949]
        for (i, expected) in band.enumerated() {
            #expect(abs(factors[29 + i] - expected) <= 1e-5 * expected, "frequency \(29 + i): \(factors[29 + i]) vs \(expected)")
        }
    }

    @Test("The parameters are recovered from llama.cpp's divisors alone")
    func fit() throws {
        let factors = Self.llama31.frequencyFactors(theta: 500_000, headDim: 128)
        let fitted = try #require(Llama3RopeScaling.fit(factors: factors, theta: 500_000, headDim: 128))
        #expect(fitted == Self.llama31)
        // Llama 3.2 3B's variant (factor 32) too.
        let llama32 = Llama3RopeScaling(factor: 32, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 8192)
        let again = Llama3RopeScaling.fit(factors: llama32.frequencyFactors(theta: 500_000, headDim: 128), theta: 500_000, headDim: 128)
        #expect(again == llama32)
        // One frequency cannot determine three parameters: no guess.
        #expect(Llama3RopeScaling.fit(factors: [5.5], theta: 500_000, headDim: 2) == nil)
        #expect(Llama3RopeScaling.fit(factors: [Float](repeating: 1, count: 64), theta: 500_000, headDim: 128) == nil)
    }

    @Test("HF parameters: defaults for absent keys, errors name the field")
    func json() throws {
        let parsed = try Llama3RopeScaling(json: JSONObject([("rope_type", .string("llama3")), ("factor", .number(32))]), configPath: "c.json")
        #expect(parsed == Llama3RopeScaling(factor: 32, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 8192))
        #expect(try Llama3RopeScaling(json: parsed.json, configPath: "c.json") == parsed)
        do {
            _ = try Llama3RopeScaling(json: JSONObject([("factor", .number(-1))]), configPath: "c.json")
            Issue.record("a negative factor was accepted")
        } catch let error as ConversionError {
            #expect("\(error)".contains("rope_scaling.factor") && "\(error)".contains("c.json"))
        }
        #expect(throws: ConversionError.self) {
            try Llama3RopeScaling(json: JSONObject([("low_freq_factor", .number(4)), ("high_freq_factor", .number(1))]), configPath: "c.json")
        }
    }
}
