/** Parses a dotted version ("10.0.19045.4412", "14.6", "12") into numbers; null if not one. */
export function parseDottedVersion(text: string): number[] | null {
  if (!/^\d+(\.\d+)*$/.test(text)) {
    return null;
  }
  return text.split('.').map(Number);
}

/**
 * Compares two dotted versions numerically, missing parts counting as 0 ("14" = "14.0.0").
 * Returns -1, 0 or 1, or null when either is not a dotted version.
 */
export function compareDottedVersions(a: string, b: string): -1 | 0 | 1 | null {
  const left = parseDottedVersion(a);
  const right = parseDottedVersion(b);
  if (left === null || right === null) {
    return null;
  }
  const length = Math.max(left.length, right.length);
  for (let index = 0; index < length; index += 1) {
    const x = left[index] ?? 0;
    const y = right[index] ?? 0;
    if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}
