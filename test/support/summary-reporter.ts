// Adds one plain closing line, "vitest: N passed, N failed, N skipped", that CI can read in any language.
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    const counts = { passed: 0, failed: 0, skipped: 0, pending: 0 };
    for (const module of testModules) {
      for (const test of module.children.allTests()) counts[test.result().state] += 1;
    }
    // A file that failed to load, or an unhandled error, is a failure even without a failed test.
    const broken = testModules.filter((m) => m.state() === 'failed' && ![...m.children.allTests()].some((t) => t.result().state === 'failed')).length;
    console.log(`vitest: ${counts.passed} passed, ${counts.failed + broken + unhandledErrors.length} failed, ${counts.skipped + counts.pending} skipped`);
  }
}
