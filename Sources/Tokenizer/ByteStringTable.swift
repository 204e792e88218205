#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A hash map from byte strings to `Int32` that is looked up through a borrowed buffer, without allocating.
///
/// Token texts are compared byte for byte: Swift `String` equality and hashing follow Unicode canonical
/// equivalence, so two distinct tokens such as `é` (U+00E9) and `e` + U+0301 would collide in a
/// `[String: Int]`. Keys live in one arena; slots use linear probing at a load factor of at most 1/2.
struct ByteStringTable: Sendable {
    /// One key: where its bytes are in the arena, its hash and its value, together so that a probe touches
    /// one cache line instead of four arrays.
    private struct Entry {
        var hash: UInt64
        var start: Int
        var length: Int32
        var value: Int32
    }

    private var arena: [UInt8] = []
    private var entries: [Entry] = []
    private var slots: [Int32]          // [capacity] entry index or -1
    private var mask: Int

    /// Number of keys.
    var count: Int { entries.count }

    init(minimumCapacity: Int = 16) {
        var capacity = 16
        while capacity < minimumCapacity * 2 { capacity <<= 1 }
        slots = [Int32](repeating: -1, count: capacity)
        mask = capacity - 1
        entries.reserveCapacity(minimumCapacity)
    }

    /// FNV-1a over the bytes, with a final avalanche so that linear probing spreads well.
    @inline(__always)
    static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        h ^= h >> 33
        h = h &* 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        return h
    }

    /// The entry index of `key` and its hash, or (nil, slot to insert at, hash).
    @inline(__always)
    private func probe(_ key: UnsafeBufferPointer<UInt8>) -> (entry: Int?, slot: Int, hash: UInt64) {
        let h = Self.hash(key)
        return slots.withUnsafeBufferPointer { slotBuffer in
            entries.withUnsafeBufferPointer { entryBuffer in
                arena.withUnsafeBufferPointer { keys in
                    var i = Int(truncatingIfNeeded: h) & mask
                    while true {
                        let index = slotBuffer[i]
                        if index < 0 { return (nil, i, h) }
                        let entry = entryBuffer[Int(index)]
                        if entry.hash == h && Int(entry.length) == key.count
                            && (key.isEmpty || memcmp(keys.baseAddress! + entry.start, key.baseAddress!, key.count) == 0)
                        {
                            return (Int(index), i, h)
                        }
                        i = (i &+ 1) & mask
                    }
                }
            }
        }
    }

    /// The value stored for `key`, or nil.
    @inline(__always)
    func find(_ key: UnsafeBufferPointer<UInt8>) -> Int32? {
        guard let index = probe(key).entry else { return nil }
        return entries.withUnsafeBufferPointer { $0[index].value }
    }

    /// The value stored for the bytes of `key`, or nil.
    func find(_ key: [UInt8]) -> Int32? { key.withUnsafeBufferPointer { find($0) } }

    /// Inserts `key`, or replaces its value when `replace` is true. Returns the entry's index.
    @discardableResult
    mutating func insert(_ key: UnsafeBufferPointer<UInt8>, value: Int32, replace: Bool = true) -> Int {
        let (found, slot, h) = probe(key)
        if let found {
            if replace { entries[found].value = value }
            return found
        }
        let index = entries.count
        entries.append(Entry(hash: h, start: arena.count, length: Int32(key.count), value: value))
        arena.append(contentsOf: key)
        slots[slot] = Int32(index)
        if entries.count * 2 > slots.count { grow() }
        return index
    }

    /// Inserts the bytes of `key` (see `insert(_:value:replace:)`).
    @discardableResult
    mutating func insert(_ key: [UInt8], value: Int32, replace: Bool = true) -> Int {
        key.withUnsafeBufferPointer { insert($0, value: value, replace: replace) }
    }


    /// Drops every key, keeping the capacity.
    mutating func removeAll() {
        arena.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
        for i in slots.indices { slots[i] = -1 }
    }

    private mutating func grow() {
        let capacity = slots.count * 2
        slots = [Int32](repeating: -1, count: capacity)
        mask = capacity - 1
        for (index, entry) in entries.enumerated() {
            var i = Int(truncatingIfNeeded: entry.hash) & mask
            while slots[i] >= 0 { i = (i &+ 1) & mask }
            slots[i] = Int32(index)
        }
    }
}
