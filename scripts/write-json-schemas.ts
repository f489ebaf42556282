// Writes shared/json-schema/*.schema.json from the TypeBox schemas, so ICT can validate a
// policy file with any JSON Schema tool. `npm run schemas`; a test fails when they are stale.
import { mkdir, writeFile } from 'node:fs/promises';
import { jsonSchemaFiles } from './json-schemas.ts';

const folder = new URL('../shared/json-schema/', import.meta.url);
await mkdir(folder, { recursive: true });
for (const [name, text] of Object.entries(jsonSchemaFiles())) {
  await writeFile(new URL(name, folder), text);
  process.stdout.write(`wrote shared/json-schema/${name}\n`);
}
