import ArgumentParser
import Foundation
import IOCore
import TensorCore

/// The `moekit` command line: one subcommand per file under `Subcommands/`.
@main
struct MoekitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moekit",
        abstract: "Turn dense LLaMA-style models into Mixture-of-Experts models, train and evaluate them.",
        version: MoekitVersion.string,
        subcommands: [
            Inspect.self, Convert.self, Compare.self, Tokenize.self, Logits.self, Generate.self, Eval.self, Upcycle.self,
            Split.self, Plan.self, Verify.self, MergeDense.self, PrepareData.self, Train.self,
        ]
    )

    /// Runs the command; errors already reported by `reportingErrors` become exit status 1.
    static func main() {
        Matmul.useSingleThreadedBLAS()
        Matmul.stopIdleBLASThreads()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch ExitCodeError.failure {
            Foundation.exit(1)
        } catch {
            exit(withError: error)
        }
    }
}

