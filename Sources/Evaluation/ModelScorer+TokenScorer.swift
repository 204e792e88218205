import Runtime

/// The CPU runtime's scorer is the harness's model: `ModelScorer` already has the members `TokenScorer` asks for.
extension ModelScorer: TokenScorer {}
