// `moat grant add | list | rm`: the keys egress injects, kept encrypted in MOAT_HOME (store.ts) so that `moat chain
// up` need not have them in its environment. A key is read from the terminal or standard input, never from argv;
// nothing here ever prints one (list shows a fingerprint only this store can make).
import { MoatError } from '../errors';
import { moatHome } from '../chain/state';
import { BUILTIN_GRANTS } from '../config/grants';
import { table } from '../commands/table';
import { addGrant, grantRows, openStore, removeGrant, storeFileOf } from './store';
import { readSecret } from './read-secret';
import type { StoreKey } from './store-key';

export const GRANT_USAGE = `usage: moat grant <command> [options]

commands:
  add NAME               store the key of a built-in grant (${Object.keys(BUILTIN_GRANTS).join(', ')}), typed at
                         the terminal (not echoed) or piped on standard input; never on the command line
  add NAME --host HOST --header HEADER [--format FORMAT]
                         a generic grant, as grants: takes it (FORMAT default "{key}", e.g. "Bearer {key}")
  list [--json]          stored grants: name, host, header, when added, fingerprint (never a key)
  rm NAME                remove a stored grant

The store is MOAT_HOME/grants.json (AES-256-GCM); its key is in the system keyring when one runs, else in
MOAT_HOME/grants.key (0600; MOAT_GRANT_KEYRING=off always uses the file). \`moat chain up\` takes a grant's key from
the environment when it is set there, else from the store.`;

interface GrantArgs {
  command: string;
  name?: string;
  host?: string;
  header?: string;
  format?: string;
  json: boolean;
}

const print = (text: string): void => void process.stdout.write(text + '\n');

/** A key given as an argument is refused outright: it is already in the shell's history and /proc. */
const KEY_FLAGS = new Set(['--key', '--value', '--secret', '--token']);

function parse(argv: string[]): GrantArgs {
  const args: GrantArgs = { command: argv[0] ?? '', json: false };
  const need = (i: number, flag: string): string => {
    if (argv[i] === undefined || argv[i].startsWith('-'))
      throw new MoatError('MOAT_ERR_USAGE', `${flag} needs a value`);
    return argv[i];
  };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--host') args.host = need(++i, a).toLowerCase();
    else if (a === '--header') args.header = need(++i, a).toLowerCase();
    else if (a === '--format') args.format = need(++i, a);
    else if (a === '--json') args.json = true;
    else if (KEY_FLAGS.has(a.split('=')[0]))
      throw new MoatError(
        'MOAT_ERR_USAGE',
        `a key is never taken from the command line (every process can read it there); type it when asked, or ` +
          `pipe it: moat grant add NAME < keyfile`,
      );
    else if (a.startsWith('-')) throw new MoatError('MOAT_ERR_USAGE', `unknown option "${a}"\n\n${GRANT_USAGE}`);
    else if (args.name === undefined) args.name = a;
    else
      throw new MoatError(
        'MOAT_ERR_USAGE',
        `unexpected argument (a key is never taken from the command line: type it when asked, or pipe it)`,
      );
  }
  return args;
}

const keyLine = (k: StoreKey & { why?: string }): string =>
  k.source === 'keyring'
    ? `store key: in the ${k.where}`
    : `store key: in the file ${k.where} (0600)${k.why ? `; not in a system keyring: ${k.why}` : ''}`;

/** The grant `add` stores: a built-in one's host and header, or the flags' (as `grants:` takes a generic one). */
function grantOf(a: GrantArgs): { name: string; host: string; header: string; format: string } {
  const name = a.name!;
  if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(name))
    throw new MoatError('MOAT_ERR_USAGE', `grant name ${JSON.stringify(name)}: lower-case letters, digits, . _ - only`);
  const builtin = BUILTIN_GRANTS[name];
  if (builtin) {
    if (a.host || a.header || a.format)
      throw new MoatError(
        'MOAT_ERR_USAGE',
        `"${name}" is a built-in grant (${builtin.host}, ${builtin.header}); --host/--header/--format are for ` +
          `other APIs, under another name`,
      );
    return { name, host: builtin.host, header: builtin.header, format: builtin.format };
  }
  if (!a.host || !a.header)
    throw new MoatError(
      'MOAT_ERR_USAGE',
      `"${name}" is not a built-in grant (${Object.keys(BUILTIN_GRANTS).join(', ')}): give --host HOST and ` +
        `--header HEADER (and --format, default "{key}"), as in grants:`,
    );
  // The patterns of grants: (schemas/chain-config.schema.json genericGrant): `up` finds the key by the same host.
  if (!/^[a-z0-9*?.-]+$/.test(a.host))
    throw new MoatError('MOAT_ERR_USAGE', `--host ${a.host}: a host name (or a glob such as *.example.com) only`);
  if (!/^[a-z0-9-]+$/.test(a.header))
    throw new MoatError('MOAT_ERR_USAGE', `--header ${a.header}: not an HTTP header name`);
  const format = a.format ?? '{key}';
  if (!format.includes('{key}')) throw new MoatError('MOAT_ERR_USAGE', `--format must contain {key}`);
  return { name, host: a.host, header: a.header, format };
}

export async function grantMain(argv: string[], home: string = moatHome()): Promise<number> {
  const a = parse(argv);
  switch (a.command) {
    case 'add': {
      if (!a.name) throw new MoatError('MOAT_ERR_USAGE', `grant add needs a NAME\n\n${GRANT_USAGE}`);
      const grant = grantOf(a);
      const key = await readSecret(`key for ${grant.name} (${grant.host}; not echoed): `);
      const added = addGrant(home, grant, key);
      print(
        `grant ${grant.name} ${added.replaced ? 'replaced' : 'stored'}: ${grant.host}, header ${grant.header}, ` +
          `fingerprint ${added.fingerprint}\nstore: ${added.file}\n${keyLine(added.storeKey)}`,
      );
      return 0;
    }
    case 'list': {
      const store = openStore(home);
      const rows = store ? grantRows(store) : [];
      if (a.json) {
        const key = store ? { source: store.storeKey.source, where: store.storeKey.where } : null;
        print(JSON.stringify({ store: storeFileOf(home), key, grants: rows }, null, 2));
        return 0;
      }
      if (!store) {
        print(`no grants stored (${storeFileOf(home)} does not exist); add one with \`moat grant add NAME\``);
        return 0;
      }
      print(
        table(
          ['NAME', 'HOST', 'HEADER', 'ADDED', 'FINGERPRINT'],
          rows.map((r) => [r.name, r.host, r.header, r.added, r.fingerprint]),
        ),
      );
      print(`store: ${store.file}\n${keyLine(store.storeKey)}`);
      return 0;
    }
    case 'rm': {
      if (!a.name) throw new MoatError('MOAT_ERR_USAGE', `grant rm needs a NAME\n\n${GRANT_USAGE}`);
      if (!removeGrant(home, a.name)) {
        process.stderr.write(`moat: no grant named ${JSON.stringify(a.name)} is stored\n`);
        return 1;
      }
      print(`grant ${a.name} removed from ${storeFileOf(home)}`);
      return 0;
    }
    case 'help':
    case '-h':
    case '--help':
      print(GRANT_USAGE);
      return 0;
    default:
      print(GRANT_USAGE);
      return 2;
  }
}
