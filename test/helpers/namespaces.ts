// Whether this machine can give `moat chain run --transparent` its namespaces: tests of it skip, saying why, where not.
import { checkNamespaces, namespaceTools } from '../../supervisor/transparent/run';

/** Why this machine cannot run the tests (no namespaces for this user), or undefined. */
export function namespacesUnavailable(): string | undefined {
  try {
    checkNamespaces(namespaceTools());
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** In a `before` hook: skips the suite, saying why, on a machine without them. */
export function skipWithoutNamespaces(suite: Mocha.Context): void {
  const why = namespacesUnavailable();
  if (!why) return;
  console.log(`      skipped: network namespaces are not available here: ${why}`);
  suite.skip();
}
