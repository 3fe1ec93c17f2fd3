import { BlockList, isIPv6 } from 'node:net';
import type { Context } from 'koa';

/**
 * Peers that may speak for someone else: a reverse proxy on the same machine or in the private network. Only
 * they are believed when they say, in `X-Forwarded-For`, whom they forward for.
 */
const PROXY_NETWORKS = new BlockList();
PROXY_NETWORKS.addSubnet('127.0.0.0', 8, 'ipv4');
PROXY_NETWORKS.addSubnet('10.0.0.0', 8, 'ipv4');
PROXY_NETWORKS.addSubnet('172.16.0.0', 12, 'ipv4');
PROXY_NETWORKS.addSubnet('192.168.0.0', 16, 'ipv4');
PROXY_NETWORKS.addAddress('::1', 'ipv6');
PROXY_NETWORKS.addSubnet('fc00::', 7, 'ipv6');

/**
 * The address a limit per client is kept under.
 *
 * The hub runs with `koa.proxy` on and `maxIpsCount = 1`, so `ctx.ip` is the rightmost `X-Forwarded-For` entry: the
 * one the nearest proxy wrote (a client can only add entries to the left of it). But anyone can send that header
 * straight to a hub that has no proxy in front, and a fresh made-up address per request would escape every limit.
 * So `ctx.ip` is believed only when the connection itself comes from a loopback or private address (where a
 * reverse proxy sits); otherwise the connection's own address counts. An IPv6 client counts by its /64, the block
 * one machine usually gets.
 *
 * @example
 * guesses.failed(clientAddress(ctx));
 */
export function clientAddress(ctx: Pick<Context, 'ip' | 'req'>): string {
  const peer = unmapped(ctx.req.socket.remoteAddress ?? '');
  const address = peer && isProxy(peer) ? unmapped(ctx.ip || peer) : peer;
  return isIPv6(address) ? prefix64(address) : address || 'unknown';
}

function isProxy(address: string): boolean {
  return PROXY_NETWORKS.check(address, isIPv6(address) ? 'ipv6' : 'ipv4');
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
