import { Type, type Static } from 'typebox';
import { OsNameSchema, Text } from './common.ts';

/** Inventory facts about a device: facts, not identity (the server-issued id is the identity). */
export const DeviceFactsSchema = Type.Object(
  {
    hostname: Text(255),
    os: Type.Object(
      {
        name: OsNameSchema,
        distro: Text(200),
        version: Text(100),
        build: Text(100),
        arch: Text(50),
      },
      { additionalProperties: false },
    ),
    model: Text(200),
    manufacturer: Text(200),
    serial: Type.Union([Text(200), Type.Null()], {
      description: 'Null when the OS would not say (Linux needs root to read the DMI serial).',
    }),
    machineIdHash: Type.Union([Type.String({ pattern: '^[0-9a-f]{64}$' }), Type.Null()], {
      description:
        'HMAC-SHA-256 of the OS machine id with a Hallpass key; null when the OS has none.',
    }),
    agentVersion: Text(50),
  },
  { additionalProperties: false },
);
export type DeviceFacts = Static<typeof DeviceFactsSchema>;
