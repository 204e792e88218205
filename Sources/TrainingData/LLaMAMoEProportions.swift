/// LLaMA-MoE's SlimPajama domain proportions (llama-moe `smoe/data/dynamic_selection.py`) and the reference
/// validation losses of dense LLaMA-2-7B (`LLAMA2_7B_SLIMPAJAMA_VAL_REF_LOSS`), keyed by SlimPajama domain, with
/// the aliases by which moekit maps a user's domain names onto them.
public enum LLaMAMoEProportions {
    /// `LLAMA_DATA_PORTION` (StaticLLaMA; also the start of DynamicSheared).
    public static let llama: [String: Double] = [
        "en_cc": 0.67, "en_c4": 0.15, "github": 0.045, "en_wikipedia": 0.045, "en_book": 0.045, "en_arxiv": 0.025,
        "en_stack": 0.02,
    ]
    /// `SHEAREDLLAMA_DATA_PORTION` (StaticSheared).
    public static let sheared: [String: Double] = [
        "en_cc": 0.361, "en_c4": 0.492, "github": 0.008, "en_wikipedia": 0.031, "en_book": 0.091, "en_arxiv": 0.007,
        "en_stack": 0.01,
    ]
    /// `LLAMA2_7B_SLIMPAJAMA_VAL_REF_LOSS`.
    public static let referenceLosses: [String: Double] = [
        "en_book": 1.92525, "en_wikipedia": 1.58990, "en_stack": 1.49749, "github": 0.69845, "en_c4": 2.07488,
        "en_cc": 1.69169, "en_arxiv": 1.24082,
    ]
    /// Accepted names (lowercased) → SlimPajama domain.
    public static let aliases: [String: String] = [
        "cc": "en_cc", "en_cc": "en_cc", "commoncrawl": "en_cc",
        "c4": "en_c4", "en_c4": "en_c4",
        "book": "en_book", "books": "en_book", "en_book": "en_book",
        "wikipedia": "en_wikipedia", "wiki": "en_wikipedia", "en_wikipedia": "en_wikipedia",
        "arxiv": "en_arxiv", "en_arxiv": "en_arxiv",
        "github": "github", "code": "github",
        "stackexchange": "en_stack", "stack": "en_stack", "en_stack": "en_stack",
    ]

    /// The SlimPajama domain a name stands for, if any.
    public static func canonical(_ name: String) -> String? { aliases[name.lowercased()] }
}
