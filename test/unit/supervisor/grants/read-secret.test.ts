// How `moat grant add` takes a key: piped (one line) or typed at a terminal in raw mode, nothing echoed.
import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { readSecret } from '../../../../supervisor/grants/read-secret';

function pipe(text: string): NodeJS.ReadStream {
  const s = new PassThrough();
  s.end(text);
  return s as unknown as NodeJS.ReadStream;
}

/** A terminal: records raw mode, is typed into by `keys`. */
function terminal(keys: string[]): { stdin: NodeJS.ReadStream; raw: boolean[] } {
  const s = new PassThrough() as unknown as NodeJS.ReadStream & { isTTY: boolean };
  const raw: boolean[] = [];
  s.isTTY = true;
  (s as any).setRawMode = (on: boolean) => raw.push(on);
  setImmediate(() => keys.forEach((k) => s.write(k)));
  return { stdin: s, raw };
}

function sink(): { out: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const out = { write: (t: string) => ((text += t), true) } as unknown as NodeJS.WriteStream;
  return { out, text: () => text };
}

describe('grant add: reading the key', () => {
  it('piped: one line, the newline dropped', async () => {
    expect(await readSecret('', pipe('sk-abc\n'))).to.equal('sk-abc');
    expect(await readSecret('', pipe('sk-abc\r\n'))).to.equal('sk-abc');
  });

  it('empty, spaces or several lines are refused', async () => {
    for (const text of ['', '\n', 'sk abc\n', 'a\nb\n']) {
      const err = await readSecret('', pipe(text)).catch((e) => e);
      expect(err.code, text).to.equal('MOAT_ERR_USAGE');
    }
  });

  it('typed at a terminal: raw mode on then off, the prompt shown, the key never echoed; backspace works', async () => {
    const { stdin, raw } = terminal(['sk-', 'abX', '\u007f', 'c', '\r']);
    const err = sink();
    expect(await readSecret('key: ', stdin, err.out)).to.equal('sk-abc');
    expect(raw).to.deep.equal([true, false]);
    expect(err.text()).to.equal('key: \n');
  });

  it('Ctrl-C at the terminal aborts', async () => {
    const { stdin } = terminal(['sk-', '\u0003']);
    const err = await readSecret('key: ', stdin, sink().out).catch((e) => e);
    expect(err.message).to.contain('aborted');
  });
});
