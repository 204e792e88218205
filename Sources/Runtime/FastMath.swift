/// Vectorisable elementwise math for the hot loops (libm's `expf` does not vectorise; style-and-performance B4).

/// e^x with relative error ≈ 2e-7 (Cephes `expf` polynomial), clamped to the normal Float range. Written without
/// traps or branches so loops calling it auto-vectorise.
@inline(__always)
func fastExp(_ value: Float) -> Float {
    let x = Swift.min(Swift.max(value, -87.3), 88.7)
    // n = round(x / ln 2) via the 1.5·2^23 trick (no Float→Int conversion trap).
    let shifted = x * 1.44269504088896341 + 12582912.0
    let n = shifted - 12582912.0
    let integer = Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000
    var r = x - n * 0.693359375
    r = r + n * 2.12194440e-4
    var p: Float = 1.9875691500e-4
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let y = p * r * r + r + 1
    let scale = Float(bitPattern: UInt32(bitPattern: (integer &+ 127) &<< 23))
    return y * scale
}

/// silu(x) = x · sigmoid(x).
@inline(__always)
func silu(_ x: Float) -> Float { x / (1 + fastExp(-x)) }

/// sigmoid(x).
@inline(__always)
func sigmoid(_ x: Float) -> Float { 1 / (1 + fastExp(-x)) }

/// Σ x[i]² with eight partial sums (a strict-FP reduction does not auto-vectorise).
@inline(__always)
func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    var i = 0
    let raw = UnsafeRawPointer(x)
    while i &+ 8 <= count {
        let v = raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
        acc += v * v
        i &+= 8
    }
    var sum = acc.sum()
    while i < count {
        sum += x[i] * x[i]
        i &+= 1
    }
    return sum
}

/// Σ x[i], vectorised like `sumOfSquares`.
@inline(__always)
func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    var i = 0
    let raw = UnsafeRawPointer(x)
    while i &+ 8 <= count {
        acc += raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
        i &+= 8
    }
    var total = acc.sum()
    while i < count {
        total += x[i]
        i &+= 1
    }
    return total
}

/// max x[i] (−∞ for an empty range), with eight independent running maxima.
@inline(__always)
func maximum(_ x: UnsafePointer<Float>, count: Int) -> Float {
    var m0 = -Float.infinity, m1 = m0, m2 = m0, m3 = m0, m4 = m0, m5 = m0, m6 = m0, m7 = m0
    var i = 0
    while i &+ 8 <= count {
        m0 = x[i] > m0 ? x[i] : m0
        m1 = x[i &+ 1] > m1 ? x[i &+ 1] : m1
        m2 = x[i &+ 2] > m2 ? x[i &+ 2] : m2
        m3 = x[i &+ 3] > m3 ? x[i &+ 3] : m3
        m4 = x[i &+ 4] > m4 ? x[i &+ 4] : m4
        m5 = x[i &+ 5] > m5 ? x[i &+ 5] : m5
        m6 = x[i &+ 6] > m6 ? x[i &+ 6] : m6
        m7 = x[i &+ 7] > m7 ? x[i &+ 7] : m7
        i &+= 8
    }
    while i < count {
        m0 = x[i] > m0 ? x[i] : m0
        i &+= 1
    }
    return Swift.max(Swift.max(Swift.max(m0, m1), Swift.max(m2, m3)), Swift.max(Swift.max(m4, m5), Swift.max(m6, m7)))
}

/// In-place softmax of `x[0..<count]`. Stable (max subtracted).
@inline(__always)
func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
    let top = maximum(x, count: count)
    for i in 0..<count { x[i] = fastExp(x[i] - top) }
    let inverse = 1 / sum(x, count: count)
    for i in 0..<count { x[i] *= inverse }
}

/// Pointers that may cross into `Parallel.forEachChunk` bodies (they only ever write disjoint memory).
package struct SendablePointer: @unchecked Sendable {
    package let pointer: UnsafeMutablePointer<Float>
    package init(_ pointer: UnsafeMutablePointer<Float>) { self.pointer = pointer }
}

/// Read-only counterpart of `SendablePointer`.
package struct SendableConstPointer: @unchecked Sendable {
    package let pointer: UnsafePointer<Float>
    package init(_ pointer: UnsafePointer<Float>) { self.pointer = pointer }
}
