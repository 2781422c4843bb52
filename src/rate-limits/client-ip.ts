import { isIPv4, isIPv6 } from 'node:net';

/**
 * The rate-limit key for a client address. IPv6 hosts usually get a whole /64, so one
 * person could otherwise rotate through 2^64 keys; IPv4-mapped IPv6 addresses count as
 * the IPv4 address they carry.
 */
export function ipKey(address: string): string {
  const ip = withoutPort(address);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1]!;
  const mappedHex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(ip);
  if (mappedHex) {
    const [high, low] = [parseInt(mappedHex[1]!, 16), parseInt(mappedHex[2]!, 16)];
    return [high >> 8, high & 255, low >> 8, low & 255].join('.');
  }
  if (isIPv4(ip) || !isIPv6(ip)) return ip;
  const [head = '', tail] = ip.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/**
 * Some proxies write the client's port into X-Forwarded-For ("203.0.113.7:51234",
 * "[2001:db8::1]:443") and Koa keeps it; the port changes with every connection, so kept
 * in the key it would give each request a fresh count.
 */
function withoutPort(address: string): string {
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(address);
  if (v4) return v4[1]!;
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::\d{1,5})?$/.exec(address);
  return v6 ? v6[1]! : address;
}
