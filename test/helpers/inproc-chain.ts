// A chain of real Moat link servers on port 0 inside the test process (no pm2): for
// testing the link runtime's behaviour on real sockets and real TLS.
import { startLink } from '../../hops/main';
import { readPolicyFile } from '../../supervisor/config/policy-file';
import type { RunningLink } from '../../hops/main';
import type { EgressSpec, LinkSpec, NextHop } from '../../hops/spec';
import type { PolicyRule } from '../../schemas/generated/chain-config';
import { stateLayout, newToken, type StateLayout } from '../../supervisor/chain/state';
import { ensureCa } from '../../supervisor/chain/ca';
import { tmpDir } from './tmp';
import { join, dirname } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { policySettings } from '../../supervisor/config/policy';
import type { PolicySettings } from '../../hops/policy/engine';
import type { PathAllowance } from '../../hops/logic/canonical-path';

export interface InprocChain {
  layout: StateLayout;
  token: string;
  ingressPort: number;
  links: { name: string; server: RunningLink; port: number }[];
  logs: string[];
  stopLink(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** allowInPaths: ingress.allow_in_paths, given to every process as the plan does. */
export async function startInprocChain(opts: {
  hops: string[];
  rules?: PolicyRule[];
  policy?: Partial<PolicySettings>;
  egress: Partial<EgressSpec>;
  allowInPaths?: PathAllowance[];
}): Promise<InprocChain> {
  const dir = tmpDir('moat-ip-');
  const layout = stateLayout('t', dir.path);
  ensureCa(layout);
  const token = newToken(layout);
  const logs: string[] = [];
  // Each listener its own credential, as `up` writes them: the agent's token opens ingress only.
  const credential = (id: string): string => {
    const file = layout.linkTokenFile(id);
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
    return file;
  };
  const base = {
    chain: 't',
    host: '127.0.0.1',
    caCertFile: layout.caCertFile,
    caKeyFile: layout.caKeyFile,
    leafKeyFile: layout.leafKeyFile,
    ...(opts.allowInPaths ? { allowInPaths: opts.allowInPaths } : {}),
  };
  const links: InprocChain['links'] = [];
  // Deny-all unless the test names the hosts it maps to local servers: no test may reach past this machine.
  const egressSpec: EgressSpec = { allow: [], resolve: {}, extraCa: [], timeoutMs: 10_000, ...opts.egress };
  const egressHop = opts.hops.length + 1;
  const egressToken = credential('egress');
  const egress = await startLink(
    {
      ...base,
      tokenFile: egressToken,
      role: 'egress',
      hop: egressHop,
      name: 'egress',
      port: 0,
      egress: egressSpec,
      onward: { kind: 'internet' },
    },
    (l) => logs.push(l),
  );
  links.unshift({ name: 'egress', server: egress, port: egress.port });
  // Every process here is a Moat process, so each reaches the next over link TLS, as the plan wires them (over the
  // port: the plan's abstract sockets are for processes of their own; link-runtime's tests read the port).
  let next: NextHop = { port: egress.port, hop: egressHop, name: 'egress', moat: true, tokenFile: egressToken };
  for (let i = opts.hops.length - 1; i >= 0; i--) {
    const name = opts.hops[i];
    const settings = { ...policySettings({ policy: { rules: opts.rules ?? [] }, prices: {} }), ...opts.policy };
    // No moat.yaml here: the policy watches a file that never appears.
    const policy = {
      settings,
      configFile: join(dir.path, 'moat.yaml'),
      usageFile: join(dir.path, 'policy-usage.json'),
    };
    const tokenFile = credential(`${i + 1}-${name}`);
    const spec: LinkSpec = {
      ...base,
      tokenFile,
      role: 'builtin',
      hop: i + 1,
      name,
      port: 0,
      onward: { kind: 'moat', next },
      policy,
    };
    const server = await startLink(spec, (l) => logs.push(l), undefined, undefined, { readPolicy: readPolicyFile });
    links.unshift({ name, server, port: server.port });
    next = { port: server.port, hop: i + 1, name, moat: true, tokenFile };
  }
  const ingress = await startLink(
    {
      ...base,
      tokenFile: layout.tokenFile,
      role: 'ingress',
      hop: 0,
      name: 'ingress',
      port: 0,
      onward: { kind: 'moat', next },
    },
    (l) => logs.push(l),
  );
  links.unshift({ name: 'ingress', server: ingress, port: ingress.port });
  const stopped = new Set<string>();
  return {
    layout,
    token,
    ingressPort: ingress.port,
    links,
    logs,
    async stopLink(name) {
      stopped.add(name);
      await links.find((l) => l.name === name)!.server.close();
    },
    async stop() {
      for (const l of links) if (!stopped.has(l.name)) await l.server.close();
      dir.remove();
    },
  };
}
