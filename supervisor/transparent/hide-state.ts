// Inside `run --transparent` the agent must not read the chain's state nor see its processes (the agent is not
// trusted and usually runs as the same user, who owns every state file). The helper (netns-main.ts), root of its
// own user namespace and alone in a mount namespace, covers each state directory with an empty read-only tmpfs and
// mounts a /proc of its PID namespace, where only the command's own processes exist. The command runs in a user
// namespace nested in the helper's, with no capability over these mounts: it cannot unmount them, and in a mount
// namespace of its own they would be locked to it (the kernel's rule for mounts from a more privileged namespace).
import { execFileSync } from 'node:child_process';
import type { HiddenState } from './protocol';

/** The mount(8) calls, in order (pure): the /proc first, then one empty read-only tmpfs per covered path. */
export function hideCommands(cover: readonly string[]): string[][] {
  return [
    ['-t', 'proc', '-o', 'nosuid,nodev,noexec', 'proc', '/proc'],
    ...cover.map((path) => ['-t', 'tmpfs', '-o', 'ro,nosuid,nodev,noexec,mode=0555,size=4k', 'moat-hidden', path]),
  ];
}

/** Runs them; a failure names its step (what the run process reports as MOAT_ERR_NAMESPACES). */
export function hideState(hide: HiddenState): void {
  for (const argv of hideCommands(hide.cover)) {
    try {
      execFileSync(hide.mount, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
      throw Object.assign(new Error(stderr || (err as Error).message), { step: `mount ${argv.join(' ')}` });
    }
  }
}
