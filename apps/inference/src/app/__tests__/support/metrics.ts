// Test support: reading the service's Prometheus exposition as a scraper would.
export async function scrapeMetrics(baseUrl: string): Promise<string> {
  return (await fetch(`${baseUrl}/metrics`)).text();
}

/** The value of the sample of `name` whose labels include every one of `labels` (in any order). */
export function sample(metrics: string, name: string, labels: string[]): number {
  for (const line of metrics.split('\n')) {
    const match = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (match && match[1] === name && labels.every((label) => match[2].split(',').includes(label)))
      return Number(match[3]);
  }
  throw new Error(`no sample ${name}{${labels.join(',')}}`);
}
