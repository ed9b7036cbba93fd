// CIDR lists (IPv4 and IPv6) for the SIP edge's trusted carrier networks.
import { BlockList, isIP } from 'node:net';

export function parseNetworks(value: string, variable: string): BlockList {
  const list = new BlockList();
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    if (!entry) continue;
    const [address, prefixText] = entry.split('/');
    const family = isIP(address);
    if (family === 0) throw new Error(`${variable}: "${entry}" is not an IP address or CIDR`);
    const max = family === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > max)
      throw new Error(`${variable}: bad prefix in "${entry}"`);
    list.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

export class NetworkMatcher {
  private readonly list: BlockList;

  constructor(value: string) {
    this.list = parseNetworks(value, 'SOVREN_VOICE_TRUSTED_SIP_NETWORKS');
  }

  contains(address: string): boolean {
    const plain = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
    const family = isIP(plain);
    if (family === 0) return false;
    return this.list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  }
}
