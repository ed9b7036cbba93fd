// The single start-up error for a bad environment: it lists every bad variable at once, so an operator fixes
// the unit's EnvironmentFile in one pass instead of one restart per mistake.
export interface ConfigProblem {
  variable: string;
  message: string;
}

export class ConfigValidationError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(
      ['Invalid configuration:', ...problems.map((problem) => `  ${problem.variable}: ${problem.message}`)].join('\n'),
    );
    this.name = 'ConfigValidationError';
    this.problems = problems;
  }
}
