// The metric names a PromQL expression reads (not functions, keywords, label names or values), for checking
// that every dashboard query names a metric the services export.
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
]);

export function promqlMetricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // string literals (label values)
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // range selectors and subqueries
    .replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, '') // Grafana variables
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ''); // label lists
  const names = new Set<string>();
  const token = /[A-Za-z_:][A-Za-z0-9_:]*/g;
  for (let m = token.exec(stripped); m !== null; m = token.exec(stripped)) {
    const name = m[0];
    const rest = stripped.slice(m.index + name.length);
    if (/^\s*\(/.test(rest)) continue; // a function or aggregation
    if (KEYWORDS.has(name.toLowerCase())) continue;
    if (/^\d/.test(name)) continue;
    const before = stripped.slice(0, m.index);
    if (/[0-9.]$/.test(before) && /^[eE]/.test(name)) continue; // exponent of a number literal
    names.add(name);
  }
  return [...names];
}
