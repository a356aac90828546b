// What a WebSocket costs through each target of the bench (issue 21): the handshake (CONNECT, TLS, the upgrade
// through every process), one connection echoing a 100-byte text message (round trip at c=1), and 32 connections
// echoing in loops (messages per second). The fake provider's echo endpoint answers (test/fixtures/fake-websocket.ts);
// the client is the tests' own (test/helpers/ws-client.ts). Talks only to 127.0.0.1; every loop is bounded.
import { connectWebSocket, type WsClient, type WsConnectOptions } from '../helpers/ws-client';

export interface WsTarget {
  name: string;
  /** How to open a connection to the echo endpoint (URL, proxy or address, CA). */
  open: Omit<WsConnectOptions, 'url'> & { url: string };
}

export interface WsResult {
  name: string;
  handshakeP50Ms: number;
  roundTripP50Ms: number;
  roundTripP99Ms: number;
  messagesPerS: number;
}

const HANDSHAKES = 20;
const WARMUP_MESSAGES = 200;
const MESSAGES = 1000;
const CONNECTIONS = 32;
const LOOP_MS = 3000;
const MESSAGE = 'x'.repeat(100);

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function echo(ws: WsClient): Promise<void> {
  ws.sendText(MESSAGE);
  const m = await ws.next();
  if (m.text !== MESSAGE) throw new Error(`echo changed the message (${m.text.length} chars)`);
}

async function measureOne(t: WsTarget): Promise<WsResult> {
  const handshakes: number[] = [];
  for (let i = 0; i < HANDSHAKES; i++) {
    const t0 = performance.now();
    const ws = await connectWebSocket(t.open);
    handshakes.push(performance.now() - t0);
    await ws.close(1000);
  }
  const ws = await connectWebSocket(t.open);
  for (let i = 0; i < WARMUP_MESSAGES; i++) await echo(ws);
  const trips: number[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const t0 = performance.now();
    await echo(ws);
    trips.push(performance.now() - t0);
  }
  await ws.close(1000);
  const sockets = await Promise.all(Array.from({ length: CONNECTIONS }, () => connectWebSocket(t.open)));
  let echoed = 0;
  const until = performance.now() + LOOP_MS;
  const t0 = performance.now();
  await Promise.all(
    sockets.map(async (s) => {
      while (performance.now() < until) {
        await echo(s);
        echoed++;
      }
    }),
  );
  const elapsed = performance.now() - t0;
  await Promise.all(sockets.map((s) => s.close(1000)));
  return {
    name: t.name,
    handshakeP50Ms: pct(handshakes, 50),
    roundTripP50Ms: pct(trips, 50),
    roundTripP99Ms: pct(trips, 99),
    messagesPerS: (echoed / elapsed) * 1000,
  };
}

export async function measureWebSockets(targets: WsTarget[]): Promise<WsResult[]> {
  const results: WsResult[] = [];
  for (const t of targets) results.push(await measureOne(t));
  return results;
}

export function wsMarkdown(results: WsResult[]): string {
  const f = (x: number) => x.toFixed(2);
  const direct = results.find((r) => r.name === 'direct');
  const rows = results.map(
    (r) =>
      `| ${r.name} | ${f(r.handshakeP50Ms)} | ${f(r.roundTripP50Ms)} | ${f(r.roundTripP99Ms)} | ` +
      `${direct && r !== direct ? `+${f(r.roundTripP50Ms - direct.roundTripP50Ms)}` : '-'} | ${Math.round(r.messagesPerS)} |`,
  );
  return `## WebSockets (GET /ws/echo, a 100-byte text message echoed)

The handshake: median of ${HANDSHAKES} connections (TCP, CONNECT, TLS, the upgrade through every process and its 101).
c=1: one connection, ${WARMUP_MESSAGES} messages to warm up, then ${MESSAGES} round trips. c=${CONNECTIONS}:
${CONNECTIONS} connections echoing in loops for ${LOOP_MS / 1000} s. Through the chain every boundary reads the frames
both ways (events in capture metadata: op, size, time) and moat-policy holds each client message until its DLP has
read it.

| target | handshake ms | round trip p50 ms (c=1) | p99 ms | added p50 ms | messages/s (c=${CONNECTIONS}) |
|---|---:|---:|---:|---:|---:|
${rows.join('\n')}
`;
}
