import { collectDeviceFacts } from '../core/facts/device-facts.ts';
import type { OsName } from '../core/platform.ts';

/** Prints the device facts (inventory and hashed machine id); warnings go to stderr. */
export async function factsCommand(options: {
  os: OsName;
  json: boolean;
  agentVersion: string;
  write: (text: string) => void;
  warn: (text: string) => void;
}): Promise<number> {
  const { facts, warnings } = await collectDeviceFacts(options.os, options.agentVersion);
  if (options.json) {
    options.write(JSON.stringify(facts, null, 2) + '\n');
  } else {
    const rows: [string, string][] = [
      ['Hostname', facts.hostname],
      ['OS', `${facts.os.distro} ${facts.os.version} (build ${facts.os.build}, ${facts.os.arch})`],
      ['Model', `${facts.manufacturer} ${facts.model}`],
      ['Serial', facts.serial ?? '(not reported)'],
      ['Machine id (hashed)', facts.machineIdHash ?? '(none)'],
      ['Agent version', facts.agentVersion],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    options.write(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n');
  }
  for (const warning of warnings) {
    options.warn(`hallpass: ${warning}\n`);
  }
  return 0;
}
