import TensorCore

/// The sampler's generator: SplitMix64 (TensorCore), whose whole state a sampler cursor saves and restores.
public typealias SamplerRandom = SplitMix64

extension SplitMix64 {
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
