import { readFileSync } from 'node:fs';

/** Reads a recorded fixture of this check as bytes. */
export function fixtureBytes(os: 'windows' | 'darwin' | 'linux', name: string): Uint8Array {
  return readFileSync(new URL(`../../../../fixtures/${os}/antivirus/${name}`, import.meta.url));
}

/** Reads a recorded fixture of this check as UTF-8 text. */
export function fixtureText(os: 'windows' | 'darwin' | 'linux', name: string): string {
  return new TextDecoder().decode(fixtureBytes(os, name));
}
