import Foundation
import Transforms

/// Shows a calibration pass: `calibration forward [12/64 samples] 3072 tokens  9.8 samples/s  ETA 5s` on stderr (at
/// most every half second, and when a phase ends) and a `calibration` record per report in the `--log` file.
final class CalibrationProgressPrinter {
    private let log: ProgressLog?
    private var lastPrint = Date.distantPast
    private var phaseStart = Date()
    private var phase: CalibrationProgress.Phase?

    init(log: ProgressLog?) {
        self.log = log
    }

    func report(_ progress: CalibrationProgress) {
        if progress.phase != phase {
            phase = progress.phase
            phaseStart = Date()
            lastPrint = .distantPast
        }
        let elapsed = Date().timeIntervalSince(phaseStart)
        let rate = elapsed > 0 ? Double(progress.samplesDone) / elapsed : 0
        let remaining = rate > 0 ? Double(progress.samplesTotal - progress.samplesDone) / rate : .infinity
        log?.append(event: "calibration", [
            ("phase", .string(progress.phase.rawValue)), ("samples_done", .integer(Int64(progress.samplesDone))),
            ("samples_total", .integer(Int64(progress.samplesTotal))), ("tokens_done", .integer(Int64(progress.tokensDone))),
            ("elapsed_s", .number((elapsed * 1000).rounded() / 1000)), ("samples_per_s", .number((rate * 100).rounded() / 100)),
            ("tokens_per_s", .number(elapsed > 0 ? (Double(progress.tokensDone) / elapsed).rounded() : 0)),
            ("eta_s", .number(remaining.isFinite ? (remaining * 10).rounded() / 10 : -1)),
        ])
        guard progress.isPhaseFinished || Date().timeIntervalSince(lastPrint) >= 0.5 else { return }
        lastPrint = Date()
        printError(String(
            format: "calibration %@ [%d/%d samples] %d tokens  %.2f samples/s  ETA %@", progress.phase.rawValue,
            progress.samplesDone, progress.samplesTotal, progress.tokensDone, rate,
            ProgressReporter.duration(progress.isPhaseFinished ? 0 : remaining)))
    }
}
