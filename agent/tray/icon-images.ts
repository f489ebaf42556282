// The tray icon's images, drawn in code as PNGs: no image files to ship or keep in step, and a
// distinct shape per state (tick, exclamation, cross, hollow ring) so colour is never the only
// sign. Pure Node (zlib); the main process hands the bytes to nativeImage.
import { deflateSync } from 'node:zlib';
import type { IconState } from './icon-state.ts';

type Rgba = readonly [number, number, number, number];

const COLOURS: Record<IconState, Rgba> = {
  compliant: [26, 127, 55, 255],
  'needs-attention': [176, 112, 0, 255],
  'not-compliant': [180, 35, 24, 255],
  unreachable: [96, 104, 114, 255],
};

const WHITE: Rgba = [255, 255, 255, 255];

/** Whether pixel (x, y) of a size×size icon is the state's white mark (all in 0..1 units). */
function mark(state: IconState, x: number, y: number): boolean {
  const near = (ax: number, ay: number, bx: number, by: number, width: number): boolean => {
    // Distance from (x, y) to the segment a–b.
    const dx = bx - ax;
    const dy = by - ay;
    const t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)));
    return Math.hypot(x - (ax + t * dx), y - (ay + t * dy)) <= width;
  };
  switch (state) {
    case 'compliant':
      return near(0.28, 0.52, 0.44, 0.68, 0.07) || near(0.44, 0.68, 0.74, 0.34, 0.07);
    case 'needs-attention':
      return near(0.5, 0.24, 0.5, 0.58, 0.07) || Math.hypot(x - 0.5, y - 0.74) <= 0.07;
    case 'not-compliant':
      return near(0.32, 0.32, 0.68, 0.68, 0.07) || near(0.68, 0.32, 0.32, 0.68, 0.07);
    case 'unreachable':
      return Math.hypot(x - 0.5, y - 0.5) < 0.3;
  }
}

/** A size×size PNG for the state. */
export function iconPng(state: IconState, size = 32): Buffer {
  const rows: Buffer[] = [];
  for (let py = 0; py < size; py++) {
    const row = Buffer.alloc(1 + size * 4);
    for (let px = 0; px < size; px++) {
      const x = (px + 0.5) / size;
      const y = (py + 0.5) / size;
      const inDisc = Math.hypot(x - 0.5, y - 0.5) <= 0.47;
      const colour = !inDisc ? null : mark(state, x, y) ? WHITE : COLOURS[state];
      if (state === 'unreachable' && colour === WHITE) {
        // The hollow ring: transparent centre.
        continue;
      }
      if (colour !== null) {
        row.set(colour, 1 + px * 4);
      }
    }
    rows.push(row);
  }
  return png(size, size, Buffer.concat(rows));
}

/** A PNG of 8-bit RGBA rows, each starting with filter byte 0 (PNG spec §4, §9). */
function png(width: number, height: number, raw: Buffer): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) {
    c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return c >>> 0;
});

function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c = (CRC_TABLE[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}
