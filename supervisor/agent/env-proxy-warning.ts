// Runs inside the AGENT's Node process, from the preload. A Node that routes through the proxy itself
// (NODE_USE_ENV_PROXY=1, 22.21 and later on 22) makes undici's EnvHttpProxyAgent as it starts, before any preload,
// and Node 22's bundled undici warns on stderr that the class is experimental (code UNDICI-EHPA): two lines in every
// Node process the chain's environment starts, npm and tsc included. Node's `--disable-warning` would silence it
// but stops every Node older than 20.11 from starting at all, so the preload drops that one warning instead. The
// warning is delivered on the next tick, after the preload has run.

/** The code of undici's "EnvHttpProxyAgent is experimental" warning. */
export const ENV_PROXY_WARNING = 'UNDICI-EHPA';

type WarningListener = (warning: Error & { code?: string }) => void;

/**
 * Puts a filter in front of Node's own warning printer that drops ENV_PROXY_WARNING and passes every other warning
 * on. Does nothing when warnings are off (`--no-warnings`: no printer) or a listener other than Node's printer is
 * there already (it is not ours to wrap). Returns whether it put the filter in.
 */
export function dropEnvProxyWarning(target: NodeJS.Process = process): boolean {
  const listeners = target.listeners('warning') as WarningListener[];
  if (listeners.length !== 1) return false;
  const print = listeners[0];
  target.removeListener('warning', print);
  target.on('warning', function filtered(this: unknown, warning: Error & { code?: string }) {
    if (warning?.code !== ENV_PROXY_WARNING) print.call(this, warning);
  });
  return true;
}
