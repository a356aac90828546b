// The OTLP exporter against a collector that cuts its connection: a kept-alive connection closed
// under a POST is tried once more on a new one, so a collector that restarted loses nothing and one
// that went away is logged once, with the reason that matters (refused), not the cut before it.
import { expect } from 'chai';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OtlpExporter } from '../../hops/telemetry/otlp-exporter';
import type { MetricDef } from '../../hops/telemetry/metrics';

const DEF: MetricDef = { name: 'moat_test_total', kind: 'counter', help: 'test', labels: [], unit: '1', integer: true };

function exporterTo(port: number, log: string[]): OtlpExporter {
  return new OtlpExporter({
    endpoint: `http://127.0.0.1:${port}`,
    intervalMs: 60_000,
    headers: {},
    chain: 'test',
    defs: [DEF],
    snapshot: async () => [{ name: DEF.name, help: DEF.help, values: [{ value: 1, labels: {} }] }],
    log: (line) => log.push(line),
  });
}

/** A collector that destroys the socket of the first `cut` requests it gets, and answers the rest. */
async function collector(
  cut: number,
): Promise<{ server: http.Server; port: number; seen: () => number; answered: () => number }> {
  let seen = 0;
  let answered = 0;
  const server = http.createServer((req, res) => {
    seen += 1;
    if (seen <= cut) {
      req.socket.destroy();
      return;
    }
    req.resume();
    req.on('end', () => {
      answered += 1;
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, seen: () => seen, answered: () => answered };
}

function stop(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}

describe('otlp exporter: a connection cut under it', () => {
  it('tries once more on a new connection: a cut that heals is neither lost nor logged', async () => {
    const c = await collector(1);
    const log: string[] = [];
    try {
      await exporterTo(c.port, log).export();
      expect(c.seen()).to.equal(2);
      expect(c.answered()).to.equal(1);
      expect(log).to.deep.equal([]);
    } finally {
      await stop(c.server);
    }
  });

  it('does not try a third time: a collector that cuts every connection is logged as failing', async () => {
    const c = await collector(100);
    const log: string[] = [];
    try {
      await exporterTo(c.port, log).export();
      expect(c.seen(), 'two tries').to.equal(2);
      expect(c.answered()).to.equal(0);
      expect(log).to.have.length(1);
      expect(log[0]).to.match(/^otlp: export to http:\/\/127\.0\.0\.1:\d+\/v1\/metrics failed: fetch failed: /);
    } finally {
      await stop(c.server);
    }
  });

  it('a collector gone while a kept-alive connection was open is logged once, as refused', async () => {
    const c = await collector(0);
    const log: string[] = [];
    const exporter = exporterTo(c.port, log);
    await exporter.export(); // leaves a kept-alive connection in fetch's pool
    expect(c.answered()).to.equal(1);
    await stop(c.server);
    await exporter.export();
    await exporter.export();
    expect(log).to.have.length(1);
    expect(log[0]).to.contain('failed: fetch failed: ECONNREFUSED');
  });
});
