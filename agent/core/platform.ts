import type { Static } from 'typebox';
import type { OsNameSchema } from '../../shared/index.ts';

/** An operating system Hallpass supports. */
export type OsName = Static<typeof OsNameSchema>;

/** Maps Node's platform name to ours; null for an OS Hallpass does not support. */
export function osFromPlatform(platform: NodeJS.Platform): OsName | null {
  switch (platform) {
    case 'win32':
      return 'windows';
    case 'darwin':
      return 'darwin';
    case 'linux':
      return 'linux';
    default:
      return null;
  }
}
