import Testing

@testable import Conversion

@Suite("Q/K RoPE row permutation")
struct RopeRowPermutationTests {
    @Test("hand-derived map for one head of dimension 4 and two heads of dimension 2")
    func handDerived() {
        // D = 4: GGUF row 2i+t comes from HF row t·2+i → [0, 2, 1, 3].
        #expect(RopeRowPermutation(heads: 1, rows: 4).hfRowForGGUFRow() == [0, 2, 1, 3])
        // D = 6: GGUF rows (i,t) = (0,0),(0,1),(1,0),(1,1),(2,0),(2,1) ← HF rows 0,3,1,4,2,5.
        #expect(RopeRowPermutation(heads: 1, rows: 6).hfRowForGGUFRow() == [0, 3, 1, 4, 2, 5])
        // Two heads of D = 2: identity inside each head.
        #expect(RopeRowPermutation(heads: 2, rows: 4).hfRowForGGUFRow() == [0, 1, 2, 3])
    }

    @Test("matches the reshape formulation of convert_hf_to_gguf.py: (H, 2, D/2) → swap axes 1, 2")
    func matchesReshape() {
        let heads = 3, headDim = 8
        // Reshape formulation written independently: element (h, t, i) of the HF view goes to (h, i, t).
        var expected = [Int](repeating: -1, count: heads * headDim)
        for h in 0..<heads {
            for t in 0..<2 {
                for i in 0..<headDim / 2 {
                    let hfIndex = (h * 2 + t) * (headDim / 2) + i
                    let ggufIndex = (h * (headDim / 2) + i) * 2 + t
                    expected[ggufIndex] = hfIndex
                }
            }
        }
        #expect(RopeRowPermutation(heads: heads, rows: heads * headDim).hfRowForGGUFRow() == expected)
    }

    @Test("forward then inverse restores the bytes, for rows of any width")
    func roundTrip() {
        let perm = RopeRowPermutation(heads: 2, rows: 8)
        let rowBytes = 5
        let source = (0..<(8 * rowBytes)).map { UInt8($0) }
        var permuted = [UInt8](repeating: 0, count: source.count)
        var restored = [UInt8](repeating: 0, count: source.count)
        source.withUnsafeBytes { src in
            permuted.withUnsafeMutableBytes { perm.apply(.hfToGGUF, source: src, destination: $0) }
        }
        permuted.withUnsafeBytes { src in
            restored.withUnsafeMutableBytes { perm.apply(.ggufToHF, source: src, destination: $0) }
        }
        #expect(permuted != source)
        #expect(restored == source)
        // GGUF row 1 of head 0 is HF row 2 (D = 4): bytes 10..<15.
        #expect(Array(permuted[5..<10]) == Array(source[10..<15]))
    }
}
