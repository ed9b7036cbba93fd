// A strict reader of the Prometheus text exposition format (0.0.4), enough to prove /metrics is well formed:
// every line is a HELP/TYPE comment or a sample `name{label="value",...} value [timestamp]`, histograms carry
// ordered buckets ending in +Inf plus _sum and _count.
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\["\\n])*)"$/;

export function parsePrometheusText(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  text.split('\n').forEach((line, index) => {
    const where = `line ${index + 1}: ${line}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m) return; // other comments are allowed
      if (!METRIC_NAME.test(m[2])) throw new Error(`bad metric name in ${where}`);
      if (m[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3] ?? ''))
          throw new Error(`bad TYPE in ${where}`);
        if (types.has(m[2])) throw new Error(`duplicate TYPE in ${where}`);
        types.set(m[2], m[3]!);
      }
      return;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`malformed sample ${where}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      for (const pair of splitLabels(m[3])) {
        const l = LABEL.exec(pair);
        if (!l) throw new Error(`malformed label '${pair}' in ${where}`);
        labels[l[1]] = l[2];
      }
    }
    const value = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : m[4] === 'NaN' ? NaN : Number(m[4]);
    if (Number.isNaN(value) && m[4] !== 'NaN') throw new Error(`bad value in ${where}`);
    samples.push({ name: m[1], labels, value });
  });
  checkHistograms(samples, types);
  return { samples, types };
}

function splitLabels(body: string): string[] {
  const parts: string[] = [];
  let current = '';
  let inQuotes = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\\' && inQuotes) {
      current += c + body[++i];
      continue;
    }
    if (c === '"') inQuotes = !inQuotes;
    if (c === ',' && !inQuotes) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  if (current !== '') parts.push(current);
  return parts;
}

function checkHistograms(samples: Sample[], types: Map<string, string>): void {
  for (const [name, type] of types) {
    if (type !== 'histogram') continue;
    const buckets = samples.filter((s) => s.name === `${name}_bucket`);
    const series = new Map<string, Sample[]>();
    for (const b of buckets) {
      if (!('le' in b.labels)) throw new Error(`${name}_bucket without le`);
      const { le: _le, ...rest } = b.labels;
      const key = JSON.stringify(rest);
      series.set(key, [...(series.get(key) ?? []), b]);
    }
    for (const [key, list] of series) {
      if (list[list.length - 1].labels['le'] !== '+Inf') throw new Error(`${name}${key}: last bucket is not +Inf`);
      for (let i = 1; i < list.length; i++) {
        if (list[i].value < list[i - 1].value) throw new Error(`${name}${key}: bucket counts decrease`);
      }
      const count = samples.find((s) => s.name === `${name}_count` && JSON.stringify(s.labels) === key);
      if (!count || count.value !== list[list.length - 1].value)
        throw new Error(`${name}${key}: _count missing or != +Inf bucket`);
      if (!samples.some((s) => s.name === `${name}_sum` && JSON.stringify(s.labels) === key))
        throw new Error(`${name}${key}: _sum missing`);
    }
  }
}
