/// Keys and values of every layer for the positions of one sequence seen so far (after RoPE).
///
/// Rolling back (`truncate`) is free: positions before `count` never change, so a scorer computes a shared context
/// once and then scores each continuation from the same prefix.
public final class KVCache {
    /// Positions the cache can hold.
    public let capacity: Int
    /// Positions filled.
    public private(set) var count: Int = 0
    let layers: Int
    /// Hkv · hd.
    let width: Int
    let keys: UnsafeMutablePointer<Float>       // [L, capacity, Hkv·hd]
    let values: UnsafeMutablePointer<Float>     // [L, capacity, Hkv·hd]

    /// An empty cache for `capacity` positions of a model with `layers` layers and `width` = Hkv · hd.
    public init(layers: Int, width: Int, capacity: Int) {
        self.layers = layers
        self.width = width
        self.capacity = capacity
        keys = .allocate(capacity: max(1, layers * capacity * width))
        values = .allocate(capacity: max(1, layers * capacity * width))
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// Forgets every position from `newCount` on.
    public func truncate(to newCount: Int) {
        precondition(newCount >= 0 && newCount <= count, "KVCache.truncate(to: \(newCount)) with \(count) positions")
        count = newCount
    }

    /// Empties the cache.
    public func reset() { count = 0 }

    /// An independent copy with the same positions (and at least the same capacity).
    public func copy(capacity newCapacity: Int? = nil) -> KVCache {
        let result = KVCache(layers: layers, width: width, capacity: max(newCapacity ?? capacity, count))
        for l in 0..<layers {
            (result.keys + l * result.capacity * width).update(from: keys + l * capacity * width, count: count * width)
            (result.values + l * result.capacity * width).update(from: values + l * capacity * width, count: count * width)
        }
        result.count = count
        return result
    }

    /// Makes this cache hold exactly `other`'s positions (copying them), without allocating: a branch of a shared
    /// context.
    /// - Precondition: same layer count and width, and `other.count <= capacity`.
    public func assign(from other: KVCache) {
        precondition(other.layers == layers && other.width == width && other.count <= capacity, "KVCache.assign: incompatible caches")
        for l in 0..<layers {
            keys(layer: l).update(from: other.keys(layer: l), count: other.count * width)
            values(layer: l).update(from: other.values(layer: l), count: other.count * width)
        }
        count = other.count
    }

    /// Layer `l`'s key rows [capacity, Hkv·hd].
    func keys(layer l: Int) -> UnsafeMutablePointer<Float> { keys + l * capacity * width }
    /// Layer `l`'s value rows [capacity, Hkv·hd].
    func values(layer l: Int) -> UnsafeMutablePointer<Float> { values + l * capacity * width }

    /// Marks `added` more positions as filled (after every layer wrote them).
    func advance(by added: Int) {
        precondition(count + added <= capacity)
        count += added
    }
}
