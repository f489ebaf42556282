// A USB device says whatever its firmware says: a pupil can buy (or program) a stick whose
// serial or product string holds control characters, terminal escapes, 10 kB of text or bytes
// that are not UTF-8. Everything the guard reads from a device passes through here before it
// reaches a decision, an event, a log line or a screen.
import type { UsbDevice, UsbStorageKind } from '../../../shared/index.ts';

/** Longest device string kept (the schemas allow 200). */
export const MAX_DEVICE_TEXT = 200;

const HEX_ID = /^[0-9a-f]{4}$/;

/**
 * Bytes or text from a device as safe printable text: invalid UTF-8 becomes U+FFFD, control
 * and format characters (C0, DEL, C1, bidi overrides, zero-width) become `\xNN`/`\u{…}`
 * escapes, surrounding space is trimmed, and the result is cut to `max` UTF-16 units with `…`.
 */
export function deviceText(raw: string | Uint8Array, max = MAX_DEVICE_TEXT): string {
  const text = typeof raw === 'string' ? raw.toWellFormed() : new TextDecoder().decode(raw);
  let out = '';
  for (const char of text.trim()) {
    const code = char.codePointAt(0) ?? 0;
    const piece =
      code < 0x20 || (code >= 0x7f && code < 0xa0)
        ? `\\x${code.toString(16).padStart(2, '0')}`
        : /\p{Cf}|\p{Zl}|\p{Zp}/u.test(char)
          ? `\\u{${code.toString(16)}}`
          : char;
    // Counted in UTF-16 units, the strictest reading of a schema's maxLength.
    if (out.length + piece.length > max) {
      return `${out}…`.length <= max ? `${out}…` : `${out.slice(0, max - 1).toWellFormed()}…`;
    }
    out += piece;
  }
  return out;
}

/** A vendor or product id as four lowercase hex digits, or null when it is not one. */
export function usbId(raw: string | null | undefined): string | null {
  const id = (raw ?? '').trim().toLowerCase().replace(/^0x/, '');
  return HEX_ID.test(id) ? id : null;
}

/**
 * A device identity from what the OS read off it, or null when its ids are not ids (then the
 * caller treats it as unidentifiable: an unidentifiable stick is never approved).
 */
export function usbDevice(raw: {
  vendorId: string | null | undefined;
  productId: string | null | undefined;
  serial: string | Uint8Array | null | undefined;
  manufacturer?: string | Uint8Array | null;
  product?: string | Uint8Array | null;
  kind: UsbStorageKind;
}): UsbDevice | null {
  const vendorId = usbId(raw.vendorId);
  const productId = usbId(raw.productId);
  if (vendorId === null || productId === null) {
    return null;
  }
  const serial = raw.serial === null || raw.serial === undefined ? '' : deviceText(raw.serial);
  const name = [raw.manufacturer, raw.product]
    .filter((part): part is string | Uint8Array => part !== null && part !== undefined)
    .map((part) => deviceText(part))
    .filter((part) => part !== '')
    .join(' ');
  return {
    vendorId,
    productId,
    serial: serial === '' ? null : serial,
    name: deviceText(name === '' ? `USB device ${vendorId}:${productId}` : name),
    kind: raw.kind,
  };
}
