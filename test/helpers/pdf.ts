// Reads a PDF back as a person would see it, with poppler (scripts/test-prerequisites.list):
// pdftotext for its text in reading layout, pdftoppm for a page as an image, and a small PNG
// decoder (PNG spec, ISO/IEC 15948: 8-bit grey, RGB or RGBA, filters 0–4) to count its pixels.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { inflateSync } from 'node:zlib';

const run = promisify(execFile);

/** Runs `use` with a temporary folder holding `pdf` as report.pdf; removes the folder after. */
async function withPdf<T>(pdf: Buffer, use: (dir: string, file: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hallpass-pdf-'));
  try {
    const file = path.join(dir, 'report.pdf');
    await writeFile(file, pdf);
    return await use(dir, file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The PDF's text as `pdftotext -layout` gives it: each table row on one line. */
export function pdfToText(pdf: Buffer): Promise<string> {
  return withPdf(
    pdf,
    async (_dir, file) => (await run('pdftotext', ['-layout', file, '-'])).stdout,
  );
}

/** How many pages the PDF has, as `pdfinfo` reads it. */
export function pdfPages(pdf: Buffer): Promise<number> {
  return withPdf(pdf, async (_dir, file) => {
    const { stdout } = await run('pdfinfo', [file]);
    return Number(/^Pages:\s+(\d+)/m.exec(stdout)?.[1] ?? Number.NaN);
  });
}

/** Decoded pixels, RGB, three bytes each. */
export interface Image {
  width: number;
  height: number;
  rgb: Buffer;
}

/** Page 1 rendered by `pdftoppm -png -r 50 -f 1 -l 1`, decoded. */
export function renderFirstPage(pdf: Buffer): Promise<Image> {
  return withPdf(pdf, async (dir, file) => {
    await run('pdftoppm', [
      '-png',
      '-r',
      '50',
      '-f',
      '1',
      '-l',
      '1',
      '-singlefile',
      file,
      path.join(dir, 'page'),
    ]);
    return decodePng(await readFile(path.join(dir, 'page.png')));
  });
}

const paeth = (a: number, b: number, c: number): number => {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
};

/** Decodes an 8-bit, non-interlaced grey, RGB or RGBA PNG to RGB. */
export function decodePng(png: Buffer): Image {
  if (png.subarray(0, 8).toString('latin1') !== '\x89PNG\r\n\x1a\n') {
    throw new Error('not a PNG');
  }
  let width = 0;
  let height = 0;
  let channels = 0;
  const data: Buffer[] = [];
  for (let at = 8; at < png.length;) {
    const length = png.readUInt32BE(at);
    const type = png.subarray(at + 4, at + 8).toString('latin1');
    const body = png.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [depth, colour, , , interlace] = [body[8], body[9], body[10], body[11], body[12]];
      channels = colour === 0 ? 1 : colour === 2 ? 3 : colour === 6 ? 4 : 0;
      if (depth !== 8 || channels === 0 || interlace !== 0) {
        throw new Error(`unsupported PNG: depth ${String(depth)}, colour type ${String(colour)}`);
      }
    } else if (type === 'IDAT') {
      data.push(body);
    }
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? (pixels[y * stride + x - channels] ?? 0) : 0;
      const b = y > 0 ? (pixels[(y - 1) * stride + x] ?? 0) : 0;
      const c = x >= channels && y > 0 ? (pixels[(y - 1) * stride + x - channels] ?? 0) : 0;
      const value = line[x] ?? 0;
      const predicted =
        filter === 0
          ? 0
          : filter === 1
            ? a
            : filter === 2
              ? b
              : filter === 3
                ? (a + b) >> 1
                : paeth(a, b, c);
      pixels[y * stride + x] = (value + predicted) & 0xff;
    }
  }
  const rgb = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    for (let k = 0; k < 3; k++) {
      rgb[i * 3 + k] = pixels[i * channels + (channels === 1 ? 0 : k)] ?? 0;
    }
  }
  return { width, height, rgb };
}

/** How many pixels of `image` pass `test` (given red, green, blue). */
export function countPixels(
  image: Image,
  test: (r: number, g: number, b: number) => boolean,
): number {
  let n = 0;
  for (let i = 0; i < image.rgb.length; i += 3) {
    if (test(image.rgb[i] ?? 0, image.rgb[i + 1] ?? 0, image.rgb[i + 2] ?? 0)) {
      n++;
    }
  }
  return n;
}
