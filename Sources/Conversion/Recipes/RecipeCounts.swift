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

    /// Checks that a checkpoint's per-block tensors (Hugging Face names) end exactly at `blocks`: some tensor of the
    /// last block is present and none of block `blocks`, under the recipe's names and alternatives. A count read from
    /// config.json that disagrees would otherwise drop blocks silently or fail later on a missing tensor.
    /// - Throws: `ConversionError.invalidConfigValue` naming the file, the key and the tensor that contradicts it.
    public func checkBlockTensors(blocks: Int, hfNames: Set<String>, path: String, blockKey: String) throws(ConversionError) {
        let perBlock = tensors.filter(\.perLayer)
        guard !perBlock.isEmpty else { return }
        /// The first tensor of `block` that the checkpoint holds under any of the recipe's names.
        func tensor(of block: Int) -> String? {
            for mapping in perBlock {
                for pattern in [mapping.hf] + mapping.hfAlternatives {
                    let name = NamePattern(pattern.replacingOccurrences(of: "{E}", with: "0")).name(layer: block)
                    if hfNames.contains(name) { return name }
                }
            }
            return nil
        }
        if let beyond = tensor(of: blocks) {
            throw .invalidConfigValue(
                path: path, field: blockKey, expected: "the number of blocks the checkpoint holds (it has \(beyond))", found: "\(blocks)")
        }
        if blocks > 0, tensor(of: blocks - 1) == nil {
            throw .invalidConfigValue(
                path: path, field: blockKey,
                expected: "the number of blocks the checkpoint holds (it has no tensor of block \(blocks - 1), such as \(perBlock[0].hfName(layer: blocks - 1, expert: 0)))",
                found: "\(blocks)")
        }
    }
}
