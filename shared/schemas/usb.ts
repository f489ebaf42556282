// What the USB guard decides about a device, shared by the events it sends to the server and
// the pushes it sends to the tray. Device strings come from the device itself (a pupil can make
// a stick that says anything): the guard truncates them and escapes control characters and
// invalid UTF-8 before they reach a schema, a log or a screen.
import { Type, type Static } from 'typebox';
import { IsoDateTimeSchema, Text } from './common.ts';
import { UsbModeSchema } from './policy.ts';

/** What kind of storage: USB mass storage (class 08), or a phone/camera speaking MTP/PTP. */
export const UsbStorageKindSchema = Type.Union([
  Type.Literal('mass-storage'),
  Type.Literal('portable-media'),
]);
export type UsbStorageKind = Static<typeof UsbStorageKindSchema>;

/** Identity of a USB device as the guard sees it. Bulk-bought sticks can share a serial. */
export const UsbDeviceSchema = Type.Object(
  {
    vendorId: Type.String({ pattern: '^[0-9a-f]{4}$' }),
    productId: Type.String({ pattern: '^[0-9a-f]{4}$' }),
    serial: Type.Union([Text(200), Type.Null()]),
    /** The name the device gives (manufacturer and product strings), escaped and truncated. */
    name: Text(200),
    kind: UsbStorageKindSchema,
  },
  { additionalProperties: false },
);
export type UsbDevice = Static<typeof UsbDeviceSchema>;

/** What the guard did to the device. */
export const UsbActionSchema = Type.Union([
  Type.Literal('blocked', { description: 'No block device: nothing can mount or read it.' }),
  Type.Literal('read-only', { description: 'Read-only at the block layer before any mount.' }),
  Type.Literal('read-write', { description: 'Allowed as it is.' }),
  Type.Literal('left-alone', { description: 'The disk the system runs from: never touched.' }),
]);
export type UsbAction = Static<typeof UsbActionSchema>;

/** Why the guard did it. */
export const UsbBasisSchema = Type.Union([
  Type.Literal('not-approved', { description: 'No allowlist entry matches.' }),
  Type.Literal('approval-expired', { description: 'An entry matched but has expired.' }),
  Type.Literal('approved', { description: 'An allowlist entry matches.' }),
  Type.Literal('exempt', { description: "The console user is exempt by the policy's `exempt`." }),
  Type.Literal('mode', { description: 'The mode (audit or allow) lets every device through.' }),
  Type.Literal('system-disk', { description: 'It holds a filesystem the system runs from.' }),
]);
export type UsbBasis = Static<typeof UsbBasisSchema>;

/** One decision, as the guard records it, reports it and tells the tray. */
export const UsbDecisionSchema = Type.Object(
  {
    at: IsoDateTimeSchema,
    device: UsbDeviceSchema,
    action: UsbActionSchema,
    basis: UsbBasisSchema,
    /** The policy's mode when the decision was made. */
    mode: UsbModeSchema,
    /** The console user at the time, or null when nobody is signed in at the console. */
    user: Type.Union([Text(256), Type.Null()]),
    /** The allowlist entry that matched (its server approval id), when one did. */
    approvalId: Type.Union([Text(64), Type.Null()]),
  },
  { additionalProperties: false },
);
export type UsbDecision = Static<typeof UsbDecisionSchema>;
