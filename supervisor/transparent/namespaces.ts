// What both users of network namespaces share: `moat chain run --transparent` (run.ts) and a hop with
// `isolation: netns` (hop-main.ts). The tools they need, a probe run before anything starts, the
// MOAT_ERR_NAMESPACES messages, and starting the helper (netns-main.ts) inside new namespaces.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { everyOnPath } from '../chain/find-on-path';
import { MoatError } from '../errors';
import { isInside } from '../chain/private-files';
import type { HelperArgs } from './protocol';
import { ENTRY_POINTS } from '../paths';

const HELPER = ENTRY_POINTS.netnsHelper;

export interface NamespaceTools {
  unshare: string;
  ip: string;
  /** To cover moat's state inside (hide-state.ts). */
  mount: string;
}

/** Who needs the namespaces (the start of each message) and what to do without them. */
export interface NamespacePurpose {
  what: string;
  instead: string;
}

export const TRANSPARENT_RUN: NamespacePurpose = {
  what: 'run --transparent',
  instead: 'use `moat chain run` without --transparent (the agent gets proxy settings)',
};

/**
 * A tool the helper runs, the first on PATH outside `hidden` (/run), by where it leads when it lies there: an isolated
 * hop's helper still runs it after /run is hidden, and NixOS's PATH starts with setuid wrappers in /run/wrappers and
 * its system's tools behind /run/current-system's links. Elsewhere the path as found (a busybox applet is known by
 * its name).
 */
export function findTool(command: string, path = process.env.PATH ?? '', hidden = '/run'): string | undefined {
  const found = everyOnPath(command, path).map((p) => (isInside(p, hidden) ? realpathSync(p) : p));
  return found.find((p) => !isInside(p, hidden)) ?? found[0];
}

/** unshare and mount (util-linux) and ip (iproute2), on Linux; MOAT_ERR_NAMESPACES naming what is missing. */
export function namespaceTools(
  find: (command: string) => string | undefined = findTool,
  platform: string = process.platform,
  purpose: NamespacePurpose = TRANSPARENT_RUN,
): NamespaceTools {
  if (platform !== 'linux')
    throw new MoatError(
      'MOAT_ERR_NAMESPACES',
      `${purpose.what} needs Linux network namespaces; this system is ${platform}. ${capitalised(purpose.instead)}`,
    );
  const tools = { unshare: find('unshare'), ip: find('ip'), mount: find('mount') };
  const missing = Object.entries(tools)
    .filter(([, path]) => !path)
    .map(([tool]) => ({ tool, pkg: tool === 'ip' ? 'iproute2' : 'util-linux' }));
  if (missing.length)
    throw new MoatError(
      'MOAT_ERR_NAMESPACES',
      `${purpose.what} needs ${listed(missing.map((m) => `\`${m.tool}\` (package ${m.pkg})`))}, not found on ` +
        `PATH; install ${missing.length > 1 ? 'them' : 'it'} (e.g. \`apt-get install ` +
        `${[...new Set(missing.map((m) => m.pkg))].join(' ')}\`)`,
    );
  return tools as NamespaceTools;
}

/** What to do when the kernel refuses the namespaces, for root and for everyone else. */
export function namespaceHint(uid: number, purpose: NamespacePurpose = TRANSPARENT_RUN): string {
  if (uid === 0)
    return (
      `the kernel refuses user namespaces even to root: user.max_user_namespaces may be 0, or a container ` +
      `forbids unshare (seccomp); allow them, or ${purpose.instead}`
    );
  return (
    'this system does not let unprivileged users create user namespaces: run it as root, or allow them ' +
    '(`sysctl -w user.max_user_namespaces=15000`; Debian before 11: `sysctl -w kernel.unprivileged_userns_clone=1`; ' +
    `Ubuntu 23.10 and later: \`sysctl -w kernel.apparmor_restrict_unprivileged_userns=0\`), or ${purpose.instead}`
  );
}

const UNSHARE_OUTER = ['--user', '--map-root-user', '--net', '--pid', '--fork'];

/** Tries the namespaces once (a network namespace whose `lo` can be configured) before anything else starts. */
export function checkNamespaces(
  tools: NamespaceTools,
  uid: number = process.getuid!(),
  purpose: NamespacePurpose = TRANSPARENT_RUN,
): void {
  const probe = spawnSync(tools.unshare, [...UNSHARE_OUTER, tools.ip, 'link', 'set', 'lo', 'up'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (probe.status === 0) return;
  const why = (probe.stderr || probe.error?.message || `exit status ${probe.status}`).trim();
  throw new MoatError(
    'MOAT_ERR_NAMESPACES',
    `${purpose.what} cannot create its network namespace (${why}); ${namespaceHint(uid, purpose)}`,
  );
}

/**
 * Starts the helper as root of a new user namespace, alone in a new network namespace, and init of a new PID
 * namespace, with an IPC channel to this process. --kill-child: should unshare itself be killed, the kernel kills
 * the helper, and the PID namespace with it.
 */
export function spawnHelper(tools: NamespaceTools, args: HelperArgs, env: NodeJS.ProcessEnv): ChildProcess {
  // A mount namespace of its own where it hides moat's state (mounts in it are private: nothing leaks out).
  const outer = args.hide ? [...UNSHARE_OUTER, '--mount', '--propagation', 'private'] : UNSHARE_OUTER;
  return spawn(tools.unshare, [...outer, '--kill-child', process.execPath, HELPER, JSON.stringify(args)], {
    env,
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
  });
}

/** "a", "a and b", "a, b and c". */
function listed(items: string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
