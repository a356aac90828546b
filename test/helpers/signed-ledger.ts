// A small ledger written as the ledger writer would: events appended, checkpoints signed with the Ed25519 key created
// next to it, the newest head in the head file next to it. For tests of verify and export that need no running chain.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createPrivateKey, sign } from 'node:crypto';
import { Ledger } from '../../supervisor/ledger/ledger';
import { checkpointMessage } from '../../supervisor/ledger/verify';
import { ensureLedgerKey } from '../../supervisor/ledger/writer';
import { headFile, writeHeadFile } from '../../supervisor/ledger/head';
import type { MoatEvent } from '../../schemas/generated/event';

export const testEvent = (chain: string, n: number): MoatEvent => ({
  id: `id-${n}`,
  chain,
  trace: `t${Math.floor(n / 2)}`,
  hop: 1 + (n % 3),
  hop_name: 'h',
  boundary: n % 3,
  direction: n % 2 ? 'response' : 'request',
  time: new Date(1_800_000_000_000 + n).toISOString(),
  method: 'GET',
  scheme: 'https',
  host: 'api.example.com',
  path: `/p/${n}`,
});

/**
 * Appends events 1..`events` and signs a checkpoint of the head after each seq in `checkpointsAt`, written out to the
 * head file as the writer does.
 */
export async function writeSignedLedger(
  file: string,
  chain: string,
  events: number,
  checkpointsAt: number[],
): Promise<void> {
  mkdirSync(dirname(file), { recursive: true });
  const key = createPrivateKey(ensureLedgerKey(file));
  const ledger = await Ledger.open(file);
  try {
    for (let n = 1; n <= events; n++) {
      await ledger.append([testEvent(chain, n)]);
      if (!checkpointsAt.includes(n)) continue;
      const time = new Date(1_800_000_000_000 + 1000 * n).toISOString();
      const signature = sign(null, checkpointMessage(chain, ledger.headSeq, ledger.headHash, time), key).toString(
        'base64',
      );
      await ledger.addCheckpoint(ledger.headSeq, ledger.headHash, time, signature);
      writeHeadFile(headFile(file), { seq: ledger.headSeq, hash: ledger.headHash, time, signature });
    }
  } finally {
    await ledger.close();
  }
}
