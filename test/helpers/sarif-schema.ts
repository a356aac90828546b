// The SARIF 2.1.0 JSON schema (as shipped by @microsoft/jest-sarif, MIT, a devDependency) compiled with Ajv for
// draft-04: tests validate what `moat chain findings --sarif` writes against it.
import Ajv from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';

const SCHEMA_FILE = require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');

let validate: (((data: unknown) => boolean) & { errors?: unknown }) | undefined;

/** The schema's errors for `log` ([] when valid). */
export function sarifErrors(log: unknown): string[] {
  if (!validate) {
    // The schema's patterns are not all valid with the u flag (a lone `]`).
    const ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: false });
    addFormats(ajv);
    validate = ajv.compile(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as object);
  }
  if (validate(log)) return [];
  return ((validate.errors ?? []) as { instancePath: string; message?: string }[]).map(
    (e) => `${e.instancePath || '/'}: ${e.message}`,
  );
}
