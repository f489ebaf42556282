import { readFile } from 'node:fs/promises';
import { readAsset } from '../assets.ts';
import { parse as parseYaml } from 'yaml';
import { describeProblems, validatePolicy, type Policy } from '../../../shared/index.ts';

/** A policy document that could not be used, with the reason naming the bad key. */
export class PolicyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PolicyError';
  }
}

const MAX_POLICY_BYTES = 1024 * 1024;

/**
 * Parses and validates a policy from YAML or JSON text (JSON is YAML). Hostile input is bounded:
 * size, alias expansion and the schema's own limits; every problem names its key.
 */
export function parsePolicyText(text: string, source: string): Policy {
  if (text.length > MAX_POLICY_BYTES) {
    throw new PolicyError(`${source}: policy is larger than ${MAX_POLICY_BYTES} bytes`);
  }
  let document: unknown;
  try {
    document = parseYaml(text, { maxAliasCount: 100, uniqueKeys: true, prettyErrors: true });
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new PolicyError(`${source}: not valid YAML or JSON: ${detail ?? ''}`, { cause: error });
  }
  const checked = validatePolicy(document);
  if (!checked.ok) {
    throw new PolicyError(`${source}: invalid policy: ${describeProblems(checked.problems)}`);
  }
  return checked.value;
}

/** Reads and validates a policy file. */
export function readPolicyFile(path: string): Promise<Policy> {
  return readPolicy(path, () => readFile(path, 'utf8'));
}

/** The policy a device enforces before its group's policy arrives (shipped with the agent). */
export function readDefaultPolicy(): Promise<Policy> {
  const url = new URL('./default-policy.yaml', import.meta.url);
  return readPolicy(url.pathname, () => readAsset(url));
}

async function readPolicy(source: string, read: () => Promise<string>): Promise<Policy> {
  let text: string;
  try {
    text = await read();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new PolicyError(`${source}: cannot read policy file (${code})`, { cause: error });
  }
  return parsePolicyText(text, source);
}
