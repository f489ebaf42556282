// The device's group name as it travels in a header: any name round-trips, anything a header
// could carry that is not a plausible name is refused rather than believed.
import { describe, expect, it } from 'vitest';
import { decodeDeviceGroup, encodeDeviceGroup } from '../../shared/index.ts';

describe('the device group header', () => {
  it.each(['Pupil laptops', 'Ysgol Gymraeg – Gliniaduron', 'Year 7 / 8 % 100', 'Ω'])(
    'round-trips %s',
    (name) => {
      expect(decodeDeviceGroup(encodeDeviceGroup(name))).toBe(name);
    },
  );

  it.each([
    ['absent', null],
    ['empty', ''],
    ['malformed escape', '%E0%A4%A'],
    ['a control character', encodeURIComponent('a\nb')],
    ['a name too long', encodeURIComponent('x'.repeat(201))],
  ])('refuses %s', (_what, value) => {
    expect(decodeDeviceGroup(value)).toBeNull();
  });
});
