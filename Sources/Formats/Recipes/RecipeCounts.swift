extension ArchitectureRecipe {
    /// The key that holds the expert count in `config.json` (`gguf: false`) or GGUF metadata (`gguf: true`), for
    /// error messages; nil for dense recipes.
    public func expertCountKey(gguf: Bool) -> String? {
        guard let field = expertCountField else { return nil }
        guard gguf else { return field }
        return config.first { $0.hf == field }?.gguf.map(ggufKey) ?? field
    }

    /// Checks the block and expert counts read from a file (`config.json`, GGUF metadata) against the checkpoint
    /// before any per-block or per-expert list is built from them, so a corrupt count is an error instead of a huge
    /// allocation.
    ///
    /// Every block holds at least one tensor, so `blocks` may not exceed `tensorCount`; every expert either has
    /// tensors of its own (at most `tensorCount` experts) or a slab of at least one byte in a stacked tensor
    /// (at most `stackedExpertCapacity`, the largest outermost dimension of a stacked tensor present).
    ///
    /// - Parameters:
    ///   - path: the file the counts came from, named in errors.
    ///   - blockKey: the key holding the block count, named in errors.
    ///   - expertKey: the key holding the expert count, named in errors.
    /// - Throws: `ConversionError.invalidConfigValue` naming the file, the key, the largest count the checkpoint can
    ///   hold and the count found.
    public func checkCounts(
        blocks: Int, experts: Int, tensorCount: Int, stackedExpertCapacity: Int = 0, path: String, blockKey: String,
        expertKey: String?
    ) throws(ConversionError) {
        guard blocks >= 0, blocks <= tensorCount else {
            throw .invalidConfigValue(
                path: path, field: blockKey,
                expected: "a block count from 0 to \(tensorCount) (the checkpoint holds \(tensorCount) tensors)", found: "\(blocks)")
        }
        let limit = max(tensorCount, stackedExpertCapacity)
        guard experts >= 0, experts <= limit else {
            throw .invalidConfigValue(
                path: path, field: expertKey ?? expertCountField ?? "(expert count)",
                expected: "an expert count from 0 to \(limit) (the checkpoint holds \(tensorCount) tensors"
                    + (stackedExpertCapacity > 0 ? " and stacked expert tensors of at most \(stackedExpertCapacity) experts)" : ")"),
                found: "\(experts)")
        }
    }
}
