extension LanguageModel {
    /// Generates up to `maxTokens` tokens after `prompt`: one prefill of the prompt, then one decode step per token
    /// against the KV cache.
    ///
    /// - Parameters:
    ///   - prompt: token ids (not empty).
    ///   - maxTokens: most tokens to produce.
    ///   - sampler: greedy or temperature sampling.
    ///   - stopTokens: ids that end generation (not included in the result).
    ///   - onToken: called with each new id as soon as it is chosen; return false to stop.
    /// - Returns: the generated ids.
    /// - Throws: `RuntimeError` for an empty prompt, out-of-range ids, or a prompt longer than the context.
    @discardableResult
    public func generate(
        prompt: [Int32], maxTokens: Int, sampler: Sampler = Sampler(), stopTokens: Set<Int32> = [],
        onToken: (Int32) -> Bool = { _ in true }
    ) throws -> [Int32] {
        guard !prompt.isEmpty else { throw RuntimeError.emptyInput("the prompt has no tokens") }
        let capacity = min(config.maxPositionEmbeddings, prompt.count + maxTokens)
        guard prompt.count <= capacity else {
            throw RuntimeError.contextOverflow(needed: prompt.count, capacity: config.maxPositionEmbeddings)
        }
        let cache = makeCache(capacity: capacity)
        let workspace = makeWorkspace(rows: prompt.count, context: capacity)
        var sampler = sampler
        var output: [Int32] = []
        var next = try forward([(prompt, cache)], logits: .last, workspace: workspace) { sampler.next($0) }
        while output.count < maxTokens {
            if stopTokens.contains(next) { break }
            output.append(next)
            if !onToken(next) || output.count == maxTokens || cache.count >= capacity { break }
            next = try forward([([next], cache)], logits: .last, workspace: workspace) { sampler.next($0) }
        }
        return output
    }
}
