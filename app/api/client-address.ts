import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { Context } from 'koa';
import { BitEnvoyError } from '../../lib/errors.js';

/** A reverse proxy on the same machine: believed unless BITENVOY_TRUSTED_PROXIES says otherwise. */
export const DEFAULT_TRUSTED_PROXIES = '127.0.0.0/8,::1';

/**
 * The peers that may say, in `X-Forwarded-For`, whom they forward for (BITENVOY_TRUSTED_PROXIES: addresses or CIDR
 * blocks, comma-separated). Throws BE_USAGE naming an entry that is neither.
 *
 * @example
 * trustedProxies('127.0.0.1,10.0.0.0/8');
 */
export function trustedProxies(list: string): BlockList {
  const networks = new BlockList();
  for (const entry of list.split(',').map((e) => e.trim()).filter(Boolean)) {
    const [address = '', bits] = entry.split('/');
    const family = isIPv6(address) ? 'ipv6' : isIPv4(address) ? 'ipv4' : undefined;
    const prefix = bits === undefined ? undefined : Number(bits);
    if (!family || (prefix !== undefined && !(Number.isInteger(prefix) && prefix >= 0 && prefix <= (family === 'ipv4' ? 32 : 128)))) {
      throw new BitEnvoyError('BE_USAGE', `BITENVOY_TRUSTED_PROXIES: \`${entry}\` is not an IP address or a CIDR block like \`10.0.0.0/8\`; list the addresses of your reverse proxies, comma-separated`);
    }
    if (prefix === undefined) networks.addAddress(address, family);
    else networks.addSubnet(address, prefix, family);
  }
  return networks;
}

const LOOPBACK = trustedProxies(DEFAULT_TRUSTED_PROXIES);

/**
 * The address a limit per client is kept under.
 *
 * The hub runs with `koa.proxy` on and `maxIpsCount = 1`, so `ctx.ip` is the rightmost `X-Forwarded-For` entry: the
 * one the nearest proxy wrote (a client can only add entries to the left of it). But anyone can send that header
 * straight to a hub that has no proxy in front, and a fresh made-up address per request would escape every limit.
 * So `ctx.ip` is believed only when the connection itself comes from a trusted proxy (BITENVOY_TRUSTED_PROXIES,
 * on the Koa context as `trustedProxies`; loopback by default); otherwise the connection's own address counts. An
 * IPv6 client counts by its /64, the block one machine usually gets.
 *
 * @example
 * guesses.failed(clientAddress(ctx));
 */
export function clientAddress(ctx: Pick<Context, 'ip' | 'req'> & { trustedProxies?: BlockList }): string {
  const peer = unmapped(ctx.req.socket.remoteAddress ?? '');
  const proxies = ctx.trustedProxies ?? LOOPBACK;
  const address = peer && proxies.check(peer, isIPv6(peer) ? 'ipv6' : 'ipv4') ? unmapped(ctx.ip || peer) : peer;
  return isIPv6(address) ? prefix64(address) : address || 'unknown';
}

/** `::ffff:192.0.2.1` (an IPv4 client on a dual-stack socket) is `192.0.2.1`. */
function unmapped(address: string): string {
  return address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
}

/** The first four groups of an IPv6 address, e.g. `2001:db8:1:2::/64`. */
function prefix64(address: string): string {
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
