import ArgumentParser
import Conversion
import Transforms

extension MoekitCommand {
    /// `moekit plan --plan FILE [INPUT] [--json]`: the dry run of a plan file.
    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Dry run of a plan file: per-layer settings and parameters, FLOPs, bytes, shards, RAM, problems.",
            discussion: """
                Reads the plan (JSON or YAML, Schemas/plan.schema.json), opens the input model and prints what \
                `moekit split` or `moekit upcycle` would do with it. Nothing is written. Exits with status 1 when \
                the plan has problems (listed per layer).
                """)

        @Option(help: "The plan file.")
        var plan: String

        @Argument(help: "Dense input (default: \"input\" in the plan).")
        var input: String?

        @Flag(help: "Print JSON.")
        var json = false

        @Option(help: recipesOptionHelp)
        var recipes: String?

        func run() throws {
            try reportingErrors {
                let directory = try RecipeLibrary.locateDirectory(explicit: recipes)
                var loaded = try PlanFile.read(plan, convertersDirectory: directory)
                try loaded.checkTarget(in: try RecipeLibrary(directory: directory))
                loaded.input = input ?? loaded.input
                try MoEConversion(plan: loaded, recipes: recipes).run(dryRun: true, json: json, log: nil, label: "plan")
            }
        }
    }
}
