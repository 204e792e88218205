/// SplitMix64 (Steele, Lea & Flood 2014) with its state exposed, so a sampler cursor can save and restore it.
public struct SamplerRandom: RandomNumberGenerator, Sendable, Equatable {
    public var state: UInt64

    public init(state: UInt64) { self.state = state }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in 0..<bound (Lemire's multiply-shift with rejection, unbiased).
    public mutating func next(below bound: Int) -> Int {
        precondition(bound > 0)
        let b = UInt64(bound)
        while true {
            let product = next().multipliedFullWidth(by: b)
            if product.low >= (0 &- b) % b { return Int(product.high) }
        }
    }

    /// A state derived from several values (seed, domain, epoch), mixed through SplitMix64's finaliser.
    public static func derive(_ values: UInt64...) -> UInt64 {
        var generator = SamplerRandom(state: 0x6D6F_656B_6974_2121)
        var mixed: UInt64 = 0
        for value in values {
            generator.state ^= value
            mixed = generator.next()
        }
        return mixed
    }
}
