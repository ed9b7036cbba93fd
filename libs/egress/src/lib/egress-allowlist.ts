// Decides whether a URL may leave the machine. Matching is exact on the host name (no wildcards, no
// subdomains). An entry without a port allows only the scheme's default port (443 for https, 80 for http);
// an entry with a port allows exactly that port, with either scheme.
export interface EgressAllowlistEntry {
  readonly host: string;
  readonly port: number | null;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };
const ENTRY = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/;

export function parseAllowlistEntry(entry: string): EgressAllowlistEntry {
  const match = ENTRY.exec(entry.trim().toLowerCase());
  const port = match?.[2] === undefined ? null : Number(match[2]);
  if (!match || (port !== null && (port < 1 || port > 65535))) {
    throw new Error(`egress allowlist entry "${entry}" must be host or host:port (no scheme, path or wildcard)`);
  }
  return { host: match[1], port };
}

export class EgressAllowlist {
  readonly entries: readonly EgressAllowlistEntry[];

  constructor(entries: readonly string[]) {
    this.entries = entries.map(parseAllowlistEntry);
  }

  /** `url` must already be known to be http: or https:. */
  allows(url: URL): boolean {
    const host = url.hostname.toLowerCase();
    const explicitPort = url.port === '' ? null : Number(url.port);
    const port = explicitPort ?? DEFAULT_PORTS[url.protocol];
    return this.entries.some(
      (entry) => entry.host === host && (entry.port === null ? explicitPort === null : entry.port === port),
    );
  }
}
