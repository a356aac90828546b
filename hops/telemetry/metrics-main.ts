// moat-telemetry's metrics process under pm2: `node dist/hops/telemetry/metrics-main.js <spec.json>`.
// A service of the chain, as the ledger writer and the dashboard are: it reads every event of the chain from NATS,
// serves /metrics on 127.0.0.1 and sends OTLP (service.ts). The moat-telemetry hop itself only forwards and writes
// its log line, so a flood of events, or a slow scrape, never takes CPU from a request.
import { readFileSync } from 'node:fs';
import { exitWithParent } from '../runtime/parent-watch';
import { startTelemetry, type MetricsSpec } from './service';

if (require.main === module) {
  exitWithParent(); // pm2's daemon gone: the chain has stopped (hops/runtime/parent-watch.ts)
  const spec = JSON.parse(readFileSync(process.argv[2], 'utf8')) as MetricsSpec;
  const log = (line: string) => console.log(line);
  startTelemetry(spec, log).then(
    (running) => {
      log(`metrics: http://127.0.0.1:${running.server.port}/metrics`);
      const stop = () => running.close().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (err: Error) => {
      console.error(`metrics failed to start: ${err.message}`);
      process.exit(1);
    },
  );
}
