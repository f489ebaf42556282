// The facts of one simulated pupil laptop, as the benchmarks' fleets report them: the same model
// and OS for all, a hostname from the device's number, a random serial and machine-id hash.
import { createHash, randomUUID } from 'node:crypto';
import type { DeviceFacts } from '../shared/index.ts';

export function simulatedFacts(n: number): DeviceFacts {
  return {
    hostname: `pupil-lt-${String(n).padStart(5, '0')}`,
    os: {
      name: 'windows',
      distro: 'Microsoft Windows 11 Education',
      version: '10.0.22631',
      build: '22631',
      arch: 'x64',
    },
    model: 'ThinkPad L13 Gen 4',
    manufacturer: 'LENOVO',
    serial: `PF${randomUUID().slice(0, 8).toUpperCase()}`,
    machineIdHash: createHash('sha256').update(randomUUID()).digest('hex'),
    agentVersion: '0.1.0',
  };
}
