// ESLint for the workspace tools (benchmarks, CI scripts, the dev launcher, the lints): the workspace rules,
// the module-boundary rule included — a tool reaches apps through what they ship, never through their files.
import baseConfig from '../eslint.config.mjs';

export default [...baseConfig];
