// Generates TypeScript types from schemas/*.schema.json into schemas/generated/.
// `npm run gen` writes them (and docs/configuration-reference.md, from dist/: build first);
// test/unit/schemas/generated-types.test.ts and config-reference.test.ts fail when they are stale.
const { compile } = require('json-schema-to-typescript');
const { readFileSync, writeFileSync, readdirSync } = require('node:fs');
const { join } = require('node:path');

const schemaDir = join(__dirname, '..', 'schemas');

// The descriptions become doc comments on one line each; Prettier does not wrap comments, so they are wrapped here
// at the width of the rest of the code (120, counted in bytes like the line-length check).
const WIDTH = 120;

function wrapCommentLine(line) {
  const match = /^(\s*\* )(.*)$/.exec(line);
  if (!match || Buffer.byteLength(line) <= WIDTH) return line;
  const [, prefix, text] = match;
  const lines = [];
  let current = '';
  for (const word of text.split(' ')) {
    const candidate = current ? `${current} ${word}` : word;
    if (current && Buffer.byteLength(prefix + candidate) > WIDTH) {
      lines.push(prefix + current);
      current = word;
    } else current = candidate;
  }
  lines.push(prefix + current);
  return lines.join('\n');
}

async function generate(file) {
  const schema = JSON.parse(readFileSync(join(schemaDir, file), 'utf8'));
  const types = await compile(schema, schema.title, {
    bannerComment: `/* Generated from schemas/${file} by \`npm run gen\`. Do not edit. */`,
    cwd: schemaDir,
    style: { singleQuote: true },
    additionalProperties: false,
  });
  return types.split('\n').map(wrapCommentLine).join('\n');
}

function schemaFiles() {
  return readdirSync(schemaDir).filter((f) => f.endsWith('.schema.json'));
}

function outputPath(file) {
  return join(schemaDir, 'generated', file.replace('.schema.json', '.ts'));
}

module.exports = { generate, schemaFiles, outputPath };

if (require.main === module) {
  (async () => {
    for (const file of schemaFiles()) {
      writeFileSync(outputPath(file), await generate(file));
      console.log(`wrote ${outputPath(file)}`);
    }
    // The configuration reference, from the compiled generator (npm run build first).
    const reference = join(__dirname, '..', 'docs', 'configuration-reference.md');
    const { configReference } = require('../dist/supervisor/config/reference.js');
    writeFileSync(
      reference,
      configReference(JSON.parse(readFileSync(join(schemaDir, 'chain-config.schema.json'), 'utf8'))),
    );
    console.log(`wrote ${reference}`);
  })();
}
