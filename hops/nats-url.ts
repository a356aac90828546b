// A NATS URL may carry credentials (nats://user:pass@host:4222, nats://token@host). Whatever
// moat prints or logs shows the URL through redactNatsUrl, so they never reach output or logs.

/** The URL (or comma-separated list of URLs) with any user, password or token replaced by ***. */
export function redactNatsUrl(url: string): string {
  return url
    .split(',')
    .map((one) => one.replace(/^(\s*(?:[a-z][a-z0-9+.-]*:)?\/\/)[^/@]*@/i, '$1***@'))
    .join(',');
}

/** Every credential part of the URL(s): the texts a test or a check can look for in output. */
export function natsUrlSecrets(url: string): string[] {
  const secrets: string[] = [];
  for (const one of url.split(',')) {
    const m = /^\s*(?:[a-z][a-z0-9+.-]*:)?\/\/([^/@]*)@/i.exec(one);
    if (!m) continue;
    for (const part of m[1].split(':')) if (part) secrets.push(decodeURIComponent(part));
  }
  return secrets;
}
