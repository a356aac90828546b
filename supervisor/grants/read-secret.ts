// How `moat grant add` takes a key: typed at the terminal with no echo, or piped on standard input; never from argv
// (a command line is readable by every process of the machine in /proc/PID/cmdline, and lands in shell history).
import { MoatError } from '../errors';

/** The key from standard input: one line of printable characters (a trailing newline is dropped). */
export async function readSecret(
  prompt: string,
  stdin: NodeJS.ReadStream = process.stdin,
  stderr: NodeJS.WriteStream = process.stderr,
): Promise<string> {
  const text = stdin.isTTY ? await readHidden(prompt, stdin, stderr) : await readAll(stdin);
  const key = text.replace(/\r?\n$/, '');
  if (key === '') throw new MoatError('MOAT_ERR_USAGE', 'no key given (type it, or pipe it on standard input)');
  if (!/^[\x21-\x7e]+$/.test(key))
    throw new MoatError(
      'MOAT_ERR_USAGE',
      'the key holds spaces, control characters or several lines; a key is one word',
    );
  return key;
}

async function readAll(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** A line typed at the terminal in raw mode, nothing echoed; Ctrl-C or Ctrl-D on an empty line aborts. */
function readHidden(prompt: string, stdin: NodeJS.ReadStream, stderr: NodeJS.WriteStream): Promise<string> {
  stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let line = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      stderr.write('\n');
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (data: Buffer) => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003' || (ch === '\u0004' && line === ''))
          return done(new MoatError('MOAT_ERR_USAGE', 'aborted; no key stored'));
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else line += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}
