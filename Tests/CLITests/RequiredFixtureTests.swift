import Foundation
import IOCore
import TestSupport
import Testing

/// A fixture that scripts/test.sh (hence CI) installs must be there: the tests that need it are reported as skipped
/// when it is missing, so these checks are what turns a missing fixture into a failing run. Each is itself skipped,
/// with the reason, when the run does not ask for the fixture.
@Suite("Required fixtures are present")
struct RequiredFixtureTests {
    @Test(
        "MOEKIT_REQUIRE_SMOLLM2=1: the SmolLM2 GGUF exists and is the 135M-Instruct Q4_1 file",
        .enabled(if: TestFixtures.smolLM2Required, "SmolLM2 not required (MOEKIT_REQUIRE_SMOLLM2 is not 1)"))
    func smolLM2() throws {
        let path = try #require(
            TestFixtures.smolLM2Path,
            "SmolLM2 GGUF not found (run scripts/fetch-smollm2.sh); searched \(TestFixtures.smolLM2Candidates)")
        // The checksum scripts/fetch-smollm2.sh verifies: a truncated or different file is not the fixture.
        #expect(try SHA256.hex(file: path) == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", "\(path)")
    }

    @Test(
        "MOEKIT_REQUIRE_SMOLLM2=1 (scripts/test.sh): the moekit binary the CLI tests run is built",
        .enabled(if: TestFixtures.smolLM2Required, "not a scripts/test.sh run (MOEKIT_REQUIRE_SMOLLM2 is not 1)"))
    func binary() throws {
        _ = try CLITests.binary()
    }

    @Test(
        "MOEKIT_PY_CROSSCHECK=1: python3 imports every cross-check package",
        .enabled(if: TestFixtures.pythonCrossCheckEnabled, "Python cross-checks off (MOEKIT_PY_CROSSCHECK is not 1)"))
    func pythonPackages() {
        let missing = TestFixtures.missingModules(TestFixtures.crossCheckModules)
        #expect(missing.isEmpty, "python3 cannot import \(missing); scripts/test.sh installs them")
    }
}
