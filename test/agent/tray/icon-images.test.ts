import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { iconPng } from '../../../agent/tray/icon-images.ts';
import type { IconState } from '../../../agent/tray/icon-state.ts';

const STATES: IconState[] = ['compliant', 'needs-attention', 'not-compliant', 'unreachable'];

/** The RGBA pixels of one of our PNGs (one IDAT, filter 0 rows), checking its structure. */
function decode(png: Buffer): { width: number; height: number; pixels: Buffer } {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR');
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  const idatLength = png.readUInt32BE(33);
  expect(png.subarray(37, 41).toString('ascii')).toBe('IDAT');
  const raw = inflateSync(png.subarray(41, 41 + idatLength));
  expect(raw.length).toBe(height * (1 + width * 4));
  const pixels = Buffer.concat(
    Array.from({ length: height }, (_, y) =>
      raw.subarray(y * (1 + width * 4) + 1, (y + 1) * (1 + width * 4)),
    ),
  );
  return { width, height, pixels };
}

describe('iconPng', () => {
  it.each(STATES)('%s is a well-formed 32×32 RGBA PNG with a transparent corner', (state) => {
    const { width, height, pixels } = decode(iconPng(state));
    expect([width, height]).toEqual([32, 32]);
    expect(pixels[3]).toBe(0);
  });

  it('every state looks different, in shape and not only colour', () => {
    const alphaMasks = STATES.map((state) => {
      const { pixels } = decode(iconPng(state));
      const white = [];
      for (let i = 0; i < pixels.length; i += 4) {
        white.push(pixels[i] === 255 && pixels[i + 1] === 255 && pixels[i + 2] === 255 ? 1 : 0);
      }
      return `${white.join('')}|${Array.from(pixels.filter((_, i) => i % 4 === 3)).join(',')}`;
    });
    expect(new Set(alphaMasks).size).toBe(STATES.length);
  });
});
