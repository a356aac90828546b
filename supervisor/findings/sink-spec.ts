// events.sinks as the ledger writer takes them (pure): each syslog address parsed into host and port, loopback or
// allowed off the machine by `remote: true`, each JSON lines file made absolute against moat.yaml's directory. The
// config check (supervisor/config/events.ts) and the plan both read sinks through here; the writer checks a spec once
// more before it sends (a spec file edited after the plan cannot send findings off the machine either).
import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import type { ChainConfig } from '../../schemas/generated/chain-config';
import { facilityNumber } from './syslog';

export type SinkConfig = NonNullable<NonNullable<ChainConfig['events']>['sinks']>[number];

export type SinkSpec =
  | { kind: 'syslog'; host: string; port: number; protocol: 'udp' | 'tcp'; facility: number; remote: boolean }
  | { kind: 'jsonl'; file: string };

/** host:port or [v6]:port into its parts; a string saying what is wrong otherwise. */
export function parseSinkAddress(address: string): { host: string; port: number } | string {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(address.trim());
  if (!m) return `"${address}" is not host:port (an IPv6 address in brackets: [::1]:514)`;
  const host = m[1] ?? m[2];
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return `port ${m[3]} is not 1 to 65535`;
  if (m[1] !== undefined && isIP(host) !== 6) return `"${host}" is not an IPv6 address`;
  return { host, port };
}

/** Whether a host is this machine's loopback: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** A sink's problem (for the config check), or its spec. */
export function sinkSpec(sink: SinkConfig, configDir: string): SinkSpec | string {
  if ((sink.syslog === undefined) === (sink.jsonl === undefined))
    return 'a sink is either syslog: HOST:PORT or jsonl: FILE (one of the two)';
  if (sink.jsonl !== undefined) {
    const extra = (['protocol', 'facility', 'remote'] as const).filter((k) => sink[k] !== undefined);
    if (extra.length) return `${extra.join(', ')} go${extra.length === 1 ? 'es' : ''} with syslog, not jsonl`;
    return { kind: 'jsonl', file: isAbsolute(sink.jsonl) ? sink.jsonl : resolve(configDir, sink.jsonl) };
  }
  const address = parseSinkAddress(sink.syslog!);
  if (typeof address === 'string') return address;
  const remote = sink.remote === true;
  const problem = sendProblem({ host: address.host, remote });
  if (problem) return problem;
  return {
    kind: 'syslog',
    host: address.host === 'localhost' ? '127.0.0.1' : address.host,
    port: address.port,
    protocol: sink.protocol ?? 'udp',
    facility: facilityNumber(sink.facility),
    remote,
  };
}

/** Why findings may not go to this host: off the machine without remote: true. */
export function sendProblem(s: { host: string; remote: boolean }): string | undefined {
  if (s.remote || isLoopbackHost(s.host)) return undefined;
  return (
    `${s.host} is not this machine: findings go off the machine only with remote: true on the sink ` +
    `(loopback addresses and localhost need nothing)`
  );
}

/**
 * `moat ledger serve --sink SPEC` (central ledgers): `syslog+udp://HOST:PORT`, `syslog+tcp://HOST:PORT` (facility
 * local0), or `jsonl:FILE` (relative to the working directory); `remote` is `--sink-remote`. A SPEC's problem, or its
 * spec, as events.sinks gives them.
 */
export function parseSinkFlag(text: string, remote: boolean, cwd: string): SinkSpec | string {
  if (text.startsWith('jsonl:') && text.length > 'jsonl:'.length) return sinkSpec({ jsonl: text.slice(6) }, cwd);
  const m = /^syslog\+(udp|tcp):\/\/(.+)$/.exec(text);
  if (!m) return `--sink "${text}": expected syslog+udp://HOST:PORT, syslog+tcp://HOST:PORT or jsonl:FILE`;
  const spec = sinkSpec({ syslog: m[2], protocol: m[1] as 'udp' | 'tcp', ...(remote ? { remote } : {}) }, cwd);
  return typeof spec === 'string'
    ? `--sink "${text}": ${spec.replace('remote: true on the sink', '--sink-remote')}`
    : spec;
}
