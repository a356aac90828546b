// `moat chain init`: the starter config is valid against the schema, and init never overwrites.
import { expect } from 'chai';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../../../supervisor/config/load';
import { starterConfig, writeStarterConfig } from '../../../../supervisor/commands/init';
import { MoatError } from '../../../../supervisor/errors';
import { tmpDir } from '../../../helpers/tmp';

describe('moat chain init', () => {
  it('writes a config that passes the schema, with built-in hops and a policy rule', () => {
    const { config } = parseConfig(starterConfig(), 'moat.yaml');
    expect(config.proxies).to.deep.equal(['moat-telemetry', 'moat-policy']);
    expect(config.policy.rules).to.have.length(1);
    expect(config.capture.bodies).to.equal('metadata');
  });

  it('points editors at the schema file moat itself checks against', () => {
    const first = starterConfig().split('\n')[0];
    const m = /^# yaml-language-server: \$schema=(.+)$/.exec(first)!;
    expect(m).to.not.equal(null);
    expect(existsSync(m[1]), m[1]).to.equal(true);
    expect(JSON.parse(readFileSync(m[1], 'utf8')).title).to.equal('ChainConfig');
  });

  it('every commented-out example is valid too, once uncommented', () => {
    const uncommented = starterConfig()
      .split('\n')
      .map((l) =>
        l.replace(
          /^(\s*)# (- [a-z]|grants:| {2}- anthropic|telemetry:| {2}metrics_port:| {2}otlp:| {4}endpoint:)/,
          '$1$2',
        ),
      )
      .join('\n');
    const { config } = parseConfig(uncommented, 'moat.yaml');
    expect(config.proxies.map((p) => (typeof p === 'string' ? p : p.name))).to.deep.equal([
      'moat-telemetry',
      'moat-policy',
      'chopratejas/headroom',
      'mitmproxy',
    ]);
    expect(config.grants).to.deep.equal(['anthropic']);
    expect(config.telemetry).to.deep.equal({
      metrics_port: 9464,
      otlp: { endpoint: 'http://127.0.0.1:4318', interval_ms: 10000, headers: {} },
    });
  });

  it('refuses to overwrite an existing file and leaves it as it was', () => {
    const dir = tmpDir('moat-init-');
    try {
      const file = join(dir.path, 'moat.yaml');
      writeStarterConfig(file);
      expect(readFileSync(file, 'utf8')).to.equal(starterConfig());
      writeFileSync(file, 'proxies: [moat-policy]\n');
      expect(() => writeStarterConfig(file)).to.throw(MoatError, 'already exists; moat chain init never overwrites');
      expect(readFileSync(file, 'utf8')).to.equal('proxies: [moat-policy]\n');
    } finally {
      dir.remove();
    }
  });
});
