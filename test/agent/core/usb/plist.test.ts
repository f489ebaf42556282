import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  isPlistDict,
  parsePlist,
  PlistData,
  PlistError,
} from '../../../../agent/core/usb/plist.ts';

const fixture = (name: string) =>
  readFile(new URL(`../../../fixtures/darwin/usb/${name}`, import.meta.url), 'utf8');

describe('parsePlist', () => {
  it('reads a recorded diskutil info plist with its types', async () => {
    const value = parsePlist(await fixture('diskutil-info-usb-sandisk-disk4.plist'));
    expect(isPlistDict(value)).toBe(true);
    expect(value).toMatchObject({
      BusProtocol: 'USB',
      DeviceIdentifier: 'disk4',
      Internal: false,
      WholeDisk: true,
      Size: 30784094208,
    });
  });

  it('reads nested arrays, empty strings and data', () => {
    const value = parsePlist(
      '<plist version="1.0"><dict><key>a</key><array><dict><key>b</key><string/></dict></array>' +
        '<key>d</key><data>AA\n==</data><key>__proto__</key><string>x</string></dict></plist>',
    );
    expect(isPlistDict(value) && value.d).toEqual(new PlistData('AA=='));
    expect(isPlistDict(value) && value.a).toEqual([{ b: '' }]);
    // A key named __proto__ is a key, not the object's prototype.
    expect(isPlistDict(value) && Object.getPrototypeOf(value)).toBe(null);
  });

  it('decodes entities and character references only as XML defines them', () => {
    expect(parsePlist('<plist><string>a&amp;b &lt;c&gt; &#65;&#x42;</string></plist>')).toBe(
      'a&b <c> AB',
    );
    expect(() => parsePlist('<plist><string>&nbsp;</string></plist>')).toThrow(PlistError);
  });

  it.each([
    ['', 'no <plist>'],
    ['not a plist at all', 'no <plist>'],
    ['<plist><dict><key>a</key></dict></plist>', 'expected a value'],
    ['<plist><dict><string>a</string></dict></plist>', 'does not start with <key>'],
    ['<plist><integer>12abc</integer></plist>', 'not a number'],
    ['<plist><array><string>a</string>', 'not closed'],
    ['<plist><blob/></plist>', 'unknown element'],
    ['<plist><string><![CDATA[x]]></string></plist>', 'CDATA'],
    ['<plist><string>a</string></plist><plist/>', 'after'],
    [`<plist>${'<array>'.repeat(100)}${'</array>'.repeat(100)}</plist>`, 'nested deeper'],
  ])('refuses %j with a reason', (xml, reason) => {
    expect(() => parsePlist(xml)).toThrow(reason);
  });
});
