// A small ESLint rule that enforces the layer rules of ARCHITECTURE.md ("Layout and what may
// import what") on resolved paths, so a relative import cannot dodge them.
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', '..');

/** Folder (relative to the repo root) → folders its files may not import from. */
const forbidden = {
  shared: ['agent', 'server', 'ui', 'test', 'bench', 'scripts'],
  'agent/core': ['agent/service', 'agent/tray', 'agent/cli.ts', 'server', 'ui', 'test', 'bench'],
  'agent/service': ['agent/tray', 'server', 'ui', 'test', 'bench'],
  'agent/tray': ['agent/service', 'server', 'test', 'bench'],
  'agent/cli.ts': ['agent/tray', 'server', 'ui', 'test', 'bench'],
  server: ['agent', 'ui', 'test', 'bench'],
  ui: ['agent', 'server', 'test', 'bench'],
};

const within = (file, folder) => file === folder || file.startsWith(`${folder}/`);

/** Finds the most specific layer a repo-relative file belongs to. */
function layerOf(file) {
  return Object.keys(forbidden)
    .filter((folder) => within(file, folder))
    .sort((a, b) => b.length - a.length)[0];
}

export const importDirection = {
  meta: {
    type: 'problem',
    docs: {
      description:
        'Imports point one way: shared ← agent/core ← agent/{service,tray}; shared ← server.',
    },
    schema: [],
  },
  create(context) {
    const from = path.relative(root, context.filename);
    const layer = layerOf(from);
    if (!layer) {
      return {};
    }
    const check = (node) => {
      const source = node.source?.value;
      if (typeof source !== 'string' || !source.startsWith('.')) {
        return;
      }
      const target = path.relative(root, path.resolve(path.dirname(context.filename), source));
      const banned = forbidden[layer].find((folder) => within(target, folder));
      if (banned) {
        context.report({
          node: node.source,
          message: `${layer}/ may not import from ${banned}/ (ARCHITECTURE.md, "Layout").`,
        });
      }
    };
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    };
  },
};
