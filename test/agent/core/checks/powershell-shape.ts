// Derives, from a probe script's own syntax tree, the shape of the JSON object it prints: the
// keys and value kinds of the variable handed to ConvertTo-Json. Nothing runs PowerShell here, so
// this is how a renamed property in a windows.ps1 is caught before it reaches a pupil's laptop.
// It reads only the constructs these scripts use (hash literals, `$var.key = …`, `$arr += …`,
// casts, functions that `return $var`); anything else is kind `any`, never a guess.
import { Language, Parser, type Node } from 'web-tree-sitter';

/** The kind of a value the script can print. `any` = not statically known (a cmdlet's result). */
export type Kind =
  | { kind: 'null' | 'string' | 'number' | 'boolean' | 'any' }
  | { kind: 'array'; items: Kind[] }
  | { kind: 'object'; keys: Map<string, Kind[]> };

// Expression wrappers of the grammar that, with a single named child, add nothing.
const WRAPPERS = new Set([
  'pipeline',
  'pipeline_chain',
  'logical_expression',
  'bitwise_expression',
  'comparison_expression',
  'additive_expression',
  'multiplicative_expression',
  'format_expression',
  'range_expression',
  'array_literal_expression',
  'unary_expression',
  'expression_with_unary_operator',
  'left_assignment_expression',
  'parenthesized_expression',
]);

type Scalar = 'null' | 'string' | 'number' | 'boolean' | 'any';

const CASTS: Record<string, Scalar> = {
  string: 'string',
  int: 'number',
  int32: 'number',
  int64: 'number',
  long: 'number',
  uint32: 'number',
  double: 'number',
  bool: 'boolean',
  boolean: 'boolean',
};

/** The expression a chain of single-child wrappers stands for. */
function core(node: Node): Node {
  let current = node;
  for (;;) {
    const named = current.namedChildren;
    if (!WRAPPERS.has(current.type) || named.length !== 1 || named[0] === undefined) {
      return current;
    }
    current = named[0];
  }
}

const descendants = (node: Node, type: string): Node[] => node.descendantsOfType(type);

interface Assignment {
  /** `$name`, `$name.key`, or `$name[…]` (index: any key). */
  target: { variable: string; key: string | null; index: boolean };
  operator: '=' | '+=';
  value: Node;
  /** The function the assignment sits in, or null at script level. */
  scope: string | null;
}

function scopeOf(node: Node): string | null {
  for (let at = node.parent; at !== null; at = at.parent) {
    if (at.type === 'function_statement') {
      return at.namedChildren.find((c) => c.type === 'function_name')?.text.toLowerCase() ?? null;
    }
  }
  return null;
}

function targetOf(left: Node): Assignment['target'] | null {
  const expr = core(left);
  if (expr.type === 'variable') {
    return { variable: expr.text.toLowerCase(), key: null, index: false };
  }
  if (expr.type === 'member_access') {
    const [object, , member] = expr.children;
    if (object?.type === 'variable' && member?.type === 'member_name') {
      return { variable: object.text.toLowerCase(), key: member.text, index: false };
    }
  }
  if (expr.type === 'element_access') {
    const object = expr.namedChildren[0];
    if (object?.type === 'variable') {
      return { variable: object.text.toLowerCase(), key: null, index: true };
    }
  }
  return null;
}

/** Static view of one script: its assignments and functions. */
class Script {
  readonly assignments: Assignment[] = [];
  readonly functions = new Map<string, Node>();

  constructor(root: Node) {
    for (const node of descendants(root, 'assignment_expression')) {
      const [left, operator, value] = node.namedChildren;
      const target = left ? targetOf(left) : null;
      const op = operator?.text;
      if (target && value && (op === '=' || op === '+=')) {
        this.assignments.push({ target, operator: op, value, scope: scopeOf(node) });
      }
    }
    for (const node of descendants(root, 'function_statement')) {
      const name = node.namedChildren.find((c) => c.type === 'function_name')?.text;
      if (name !== undefined) {
        this.functions.set(name.toLowerCase(), node);
      }
    }
  }

  /** Kinds a variable can hold in a scope, from every assignment to it there. */
  variable(name: string, scope: string | null, seen: Set<string>): Kind[] {
    const id = `${scope ?? ''}:${name}`;
    if (seen.has(id)) {
      return [{ kind: 'any' }];
    }
    const inner = new Set([...seen, id]);
    const mine = this.assignments.filter((a) => a.target.variable === name && a.scope === scope);
    if (mine.length === 0) {
      return scope === null ? [{ kind: 'any' }] : this.variable(name, null, inner);
    }
    const kinds: Kind[] = [];
    const appended: Kind[] = [];
    for (const a of mine.filter((x) => x.target.key === null && !x.target.index)) {
      const value = this.kinds(a.value, a.scope, inner);
      if (a.operator === '+=') {
        appended.push(...value);
      } else {
        kinds.push(...value);
      }
    }
    // `$x = @()` then `$x += item`: an array of those items.
    const withItems = kinds.map((k): Kind =>
      k.kind === 'array' && appended.length > 0
        ? { kind: 'array', items: [...k.items, ...appended] }
        : k,
    );
    // `$x.key = …` adds or widens a key; `$x[…] = …` may widen any existing key.
    for (const a of mine.filter((x) => x.target.key !== null || x.target.index)) {
      const value = this.kinds(a.value, a.scope, inner);
      for (const k of withItems) {
        if (k.kind !== 'object') {
          continue;
        }
        if (a.target.key !== null) {
          k.keys.set(a.target.key, [...(k.keys.get(a.target.key) ?? []), ...value]);
        } else {
          for (const [key, existing] of k.keys) {
            k.keys.set(key, [...existing, ...value]);
          }
        }
      }
    }
    return withItems.length > 0 ? withItems : [{ kind: 'any' }];
  }

  /** Kinds an expression can evaluate to. */
  kinds(node: Node, scope: string | null, seen: Set<string> = new Set()): Kind[] {
    const expr = core(node);
    switch (expr.type) {
      case 'variable': {
        const name = expr.text.toLowerCase();
        if (name === '$null') {
          return [{ kind: 'null' }];
        }
        if (name === '$true' || name === '$false') {
          return [{ kind: 'boolean' }];
        }
        if (name.startsWith('$env:')) {
          return [{ kind: 'string' }];
        }
        return this.variable(name, scope, seen);
      }
      case 'string_literal':
      case 'expandable_string_literal':
        return [{ kind: 'string' }];
      case 'integer_literal':
      case 'decimal_integer_literal':
      case 'real_literal':
        return [{ kind: 'number' }];
      case 'hash_literal_expression':
        return [this.hash(expr, scope, seen)];
      case 'array_expression': {
        const inner = expr.namedChildren;
        return [{ kind: 'array', items: inner.length === 0 ? [] : [{ kind: 'any' }] }];
      }
      case 'cast_expression': {
        const type = expr.namedChildren[0]?.text.replace(/^\[|\]$/g, '').toLowerCase() ?? '';
        const operand = expr.namedChildren[1];
        if ((type === 'ordered' || type === 'pscustomobject') && operand) {
          return this.kinds(operand, scope, seen);
        }
        return [{ kind: CASTS[type] ?? 'any' }];
      }
      case 'comparison_expression':
        // `$errors -join '; '` is a string; other comparison operators answer true/false.
        return [{ kind: /^-join$/i.test(expr.children[1]?.text ?? '') ? 'string' : 'boolean' }];
      case 'command': {
        const name = expr.namedChildren[0]?.text.toLowerCase() ?? '';
        const fn = this.functions.get(name);
        return fn ? this.returns(fn, name, seen) : [{ kind: 'any' }];
      }
      default:
        return [{ kind: 'any' }];
    }
  }

  /** Kinds a script function returns (`return <expr>` statements). */
  private returns(fn: Node, name: string, seen: Set<string>): Kind[] {
    const kinds: Kind[] = [];
    for (const flow of descendants(fn, 'flow_control_statement')) {
      if (/^return\b/i.test(flow.text)) {
        const value = flow.namedChildren[0];
        kinds.push(...(value ? this.kinds(value, name, seen) : [{ kind: 'null' } as Kind]));
      }
    }
    return kinds.length > 0 ? kinds : [{ kind: 'any' }];
  }

  private hash(node: Node, scope: string | null, seen: Set<string>): Kind {
    const keys = new Map<string, Kind[]>();
    const body = node.namedChildren.find((c) => c.type === 'hash_literal_body');
    for (const entry of body?.namedChildren ?? []) {
      if (entry.type !== 'hash_entry') {
        continue;
      }
      const [key, value] = entry.namedChildren;
      if (key && value) {
        keys.set(key.text.replace(/^['"]|['"]$/g, ''), this.kinds(value, scope, seen));
      }
    }
    return { kind: 'object', keys };
  }
}

let parser: Parser | null = null;

async function getParser(): Promise<Parser> {
  if (parser === null) {
    await Parser.init();
    const wasm = new URL(
      '../../../../node_modules/tree-sitter-powershell/tree-sitter-powershell.wasm',
      import.meta.url,
    ).pathname;
    parser = new Parser();
    parser.setLanguage(await Language.load(wasm));
  }
  return parser;
}

/** The kinds of the object a script prints with ConvertTo-Json (its last such command). */
export async function printedShape(source: string): Promise<Kind[]> {
  const tree = (await getParser()).parse(source);
  if (!tree || tree.rootNode.hasError) {
    throw new Error('the script does not parse');
  }
  const script = new Script(tree.rootNode);
  const commands = descendants(tree.rootNode, 'command').filter((c) =>
    /^ConvertTo-Json$/i.test(c.namedChildren[0]?.text ?? ''),
  );
  const last = commands.at(-1);
  if (last === undefined) {
    throw new Error('the script has no ConvertTo-Json');
  }
  // `ConvertTo-Json -InputObject $x …` or `$x | ConvertTo-Json …`.
  const words = last.text.split(/\s+/);
  const input = words.findIndex((w) => /^-InputObject$/i.test(w));
  let pipeline: Node | null = last.parent;
  while (pipeline !== null && pipeline.type !== 'pipeline_chain') {
    pipeline = pipeline.parent;
  }
  const piped = pipeline?.namedChildren.find((c) => c.id !== last.id) ?? null;
  const variable = input >= 0 ? words[input + 1] : piped !== null ? core(piped).text : undefined;
  if (variable === undefined || !variable.startsWith('$')) {
    throw new Error(`cannot tell what ConvertTo-Json prints: ${last.text}`);
  }
  return script.variable(variable.toLowerCase(), scopeOf(last), new Set());
}
