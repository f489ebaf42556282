import { describe, expect, it } from 'vitest';
import { validate } from '../../../../shared/index.ts';
import { UsbDeviceSchema } from '../../../../shared/schemas/usb.ts';
import { deviceText, usbDevice, usbId } from '../../../../agent/core/usb/sanitize.ts';
import fc from 'fast-check';

describe('deviceText', () => {
  it.each([
    ['SanDisk Ultra', 'SanDisk Ultra'],
    ['  padded  ', 'padded'],
    ['bell\x07 and escape \x1b[31mred', 'bell\\x07 and escape \\x1b[31mred'],
    ['new\nline', 'new\\nline'.replace('\\n', '\\x0a')],
    ['c1\u0085char', 'c1\\x85char'],
    ['rtl \u202eexe.txt', 'rtl \\u{202e}exe.txt'],
    ['zero\u200bwidth', 'zero\\u{200b}width'],
    ['Ünïcödé 日本', 'Ünïcödé 日本'],
  ])('makes %j safe', (raw, safe) => {
    expect(deviceText(raw)).toBe(safe);
  });

  it('turns bytes that are not UTF-8 into replacement characters', () => {
    expect(deviceText(Uint8Array.from([0x41, 0xff, 0xfe, 0x42]))).toBe('A\ufffd\ufffdB');
  });

  it('turns a lone surrogate into a replacement character', () => {
    expect(deviceText('a\ud800b')).toBe('a\ufffdb');
  });

  it('cuts 10 kB to the limit, escapes included', () => {
    expect(deviceText('x'.repeat(10_000))).toHaveLength(200);
    expect(deviceText('x'.repeat(10_000)).endsWith('…')).toBe(true);
    const escapes = deviceText('\x01'.repeat(10_000));
    expect(escapes.length).toBeLessThanOrEqual(200);
  });

  it('never returns a control character or more than the limit, whatever it is given', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12_000 }), (bytes) => {
        const text = deviceText(bytes);
        expect(text.length).toBeLessThanOrEqual(200);
        // eslint-disable-next-line no-control-regex -- looking for exactly those characters
        expect(/[\x00-\x1f\x7f-\x9f]/.test(text)).toBe(false);
      }),
    );
  });
});

describe('usbId', () => {
  it.each([
    ['0781', '0781'],
    ['0x46F4', '46f4'],
    [' 05AC\n', '05ac'],
    ['781', null],
    ['07811', null],
    ['zzzz', null],
    [null, null],
  ])('reads %j as %j', (raw, id) => {
    expect(usbId(raw)).toBe(id);
  });
});

describe('usbDevice', () => {
  it('builds an identity the event schema accepts from hostile strings', () => {
    const device = usbDevice({
      vendorId: '0781',
      productId: '5581',
      serial: '\x1b]0;pwned\x07' + 'S'.repeat(10_000),
      manufacturer: Uint8Array.from([0xc3, 0x28]),
      product: 'Ultra\u0000',
      kind: 'mass-storage',
    });
    expect(device).not.toBeNull();
    expect(validate(UsbDeviceSchema, device).ok).toBe(true);
    expect(device?.serial?.startsWith('\\x1b]0;pwned\\x07')).toBe(true);
  });

  it('says null for a serial that is empty or only space, and names a device with no strings', () => {
    expect(
      usbDevice({ vendorId: '46f4', productId: '0001', serial: '  ', kind: 'mass-storage' }),
    ).toEqual({
      vendorId: '46f4',
      productId: '0001',
      serial: null,
      name: 'USB device 46f4:0001',
      kind: 'mass-storage',
    });
  });

  it('refuses ids that are not four hex digits', () => {
    expect(
      usbDevice({ vendorId: 'x', productId: '0001', serial: null, kind: 'mass-storage' }),
    ).toBeNull();
  });
});
