// Runs inside the AGENT's Node process, from the preload. A Node 22 that routes through the proxy itself
// (NODE_USE_ENV_PROXY=1, 22.21 and later) makes undici's EnvHttpProxyAgent as it starts, before any preload, and its
// bundled undici warns on stderr that the class is experimental (code UNDICI-EHPA): two lines in every Node process
// the chain's environment starts, npm and tsc included. Node 24 does not warn. Node's `--disable-warning` would
// silence it but stops every Node older than 20.11 from starting at all, so the preload drops that one warning
// instead: the warning is delivered on the next tick, after the preload has run. Not in worker threads, where each
// new Worker still prints it once.

/** The code of undici's "EnvHttpProxyAgent is experimental" warning. */
export const ENV_PROXY_WARNING = 'UNDICI-EHPA';

/** Whether this Node prints that warning when it routes through the proxy itself: 22 only. */
export function warnsOfEnvProxy(nodeVersion: string): boolean {
  return /^v?22\./.test(nodeVersion);
}

type WarningListener = (warning: Error & { code?: string }) => void;

/**
 * Puts a filter in front of Node's own warning printer that drops ENV_PROXY_WARNING and passes every other warning
 * on. Does nothing unless Node's printer (`onWarning`) is the one listener: with `--no-warnings` there is none, and
 * a listener of the program's own (from an earlier `--require`) is not ours to wrap. Returns whether it put the filter
 * in.
 */
export function dropEnvProxyWarning(target: NodeJS.Process = process): boolean {
  const listeners = target.listeners('warning') as WarningListener[];
  if (listeners.length !== 1 || listeners[0].name !== 'onWarning') return false;
  const print = listeners[0];
  target.removeListener('warning', print);
  target.on('warning', function filtered(this: unknown, warning: Error & { code?: string }) {
    if (warning?.code !== ENV_PROXY_WARNING) print.call(this, warning);
  });
  return true;
}
