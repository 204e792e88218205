import Foundation
import Testing
import Training

@Suite("Learning-rate schedules")
struct LearningRateScheduleTests {
    @Test("warmup, cosine, linear, constant and warmup-stable-decay at hand-computed steps")
    func handValues() {
        // Warmup of 10 steps to 1e-3, 110 steps in all, floor 1e-4: post-warmup span 100 steps.
        let cosine = LearningRateSchedule(shape: .cosine, peak: 1e-3, minimum: 1e-4, warmupSteps: 10, totalSteps: 110)
        #expect(abs(cosine.rate(at: 0) - 1e-4) < 1e-9)                  // 1e-3 · 1/10
        #expect(abs(cosine.rate(at: 4) - 5e-4) < 1e-9)                  // 1e-3 · 5/10
        #expect(cosine.rate(at: 10) == 1e-3)                            // p = 0: the peak
        #expect(abs(cosine.rate(at: 60) - 5.5e-4) < 1e-9)               // p = ½: min + (peak − min)/2
        #expect(abs(cosine.rate(at: 110) - 1e-4) < 1e-9)                // p = 1: the floor
        #expect(abs(cosine.rate(at: 500) - 1e-4) < 1e-9)                // stays at the floor
        let linear = LearningRateSchedule(shape: .linear, peak: 1e-3, minimum: 1e-4, warmupSteps: 10, totalSteps: 110)
        #expect(abs(linear.rate(at: 35) - 7.75e-4) < 1e-9)              // p = ¼: 1e-3 − 9e-4/4
        let constant = LearningRateSchedule(shape: .constant, peak: 2e-3, warmupSteps: 4, totalSteps: 100)
        #expect(abs(constant.rate(at: 1) - 1e-3) < 1e-9 && constant.rate(at: 99) == 2e-3)
        // WSD: 100 steps, last 20 % decay linearly from 1e-3 to 0 (steps 80…100).
        let wsd = LearningRateSchedule(shape: .wsd, peak: 1e-3, warmupSteps: 0, totalSteps: 100, decayFraction: 0.2)
        #expect(wsd.rate(at: 79) == 1e-3 && wsd.rate(at: 80) == 1e-3)
        #expect(abs(wsd.rate(at: 90) - 5e-4) < 1e-9)
        #expect(wsd.rate(at: 100) == 0)
    }

    @Test("every schedule is continuous at the end of warmup and never leaves [floor, peak] after it")
    func bounds() {
        for shape in LearningRateSchedule.Shape.allCases {
            let s = LearningRateSchedule(shape: shape, peak: 3e-4, minimum: 3e-5, warmupSteps: 20, totalSteps: 200)
            #expect(s.rate(at: 19) == s.rate(at: 20), "\(shape)")
            for step in 20...260 {
                let r = s.rate(at: step)
                #expect(r <= 3e-4 * (1 + 1e-6) && r >= 3e-5 * (1 - 1e-6), "\(shape) step \(step): \(r)")
            }
        }
    }
}
