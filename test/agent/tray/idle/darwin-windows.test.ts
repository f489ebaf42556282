// The macOS and Windows idle-lock parsers on recorded outputs (test/fixtures/darwin/idle-lock/
// README.md names each source; constructed-* files are constructed).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseHidIdleTime, parsePmsetAssertions } from '../../../../agent/tray/idle/darwin.ts';
import { parseNotificationState } from '../../../../agent/tray/idle/windows.ts';

const fixture = (name: string) =>
  readFileSync(new URL(`../../../fixtures/darwin/idle-lock/${name}`, import.meta.url), 'utf8');

describe('parsePmsetAssertions', () => {
  it('a Mac with only system sleep held has no display inhibitor', () => {
    expect(parsePmsetAssertions(fixture('pmset-assertions-catalina.txt'))).toEqual({
      ok: true,
      value: { inhibited: false, holders: [] },
    });
  });

  it('caffeinate -d holding the display awake inhibits (a real recording)', () => {
    // The summary decides; the post was cut before the display assertion's own process line.
    expect(parsePmsetAssertions(fixture('pmset-assertionslog-caffeinate-d.txt'))).toEqual({
      ok: true,
      value: { inhibited: true, holders: [] },
    });
  });

  it('a video holding the display awake inhibits, named by its process', () => {
    expect(parsePmsetAssertions(fixture('constructed-pmset-assertions-video.txt'))).toEqual({
      ok: true,
      value: { inhibited: true, holders: ['Google Chrome Helper (GPU)'] },
    });
  });

  it.each([
    ['nothing', ''],
    ['an error', 'pmset: command not found'],
    [
      'a summary without the display line',
      fixture('pmset-assertions-catalina.txt').replace(/ {3}PreventUserIdleDisplaySleep.*\n/, ''),
    ],
  ])('refuses %s', (_, text) => {
    expect(parsePmsetAssertions(text).ok).toBe(false);
  });
});

describe('parseHidIdleTime', () => {
  it('reads nanoseconds as milliseconds', () => {
    expect(parseHidIdleTime(fixture('constructed-ioreg-hididletime.txt'))).toEqual({
      ok: true,
      value: 24032,
    });
  });

  it('refuses output without HIDIdleTime', () => {
    expect(parseHidIdleTime('+-o Root  <class IORegistryEntry>').ok).toBe(false);
  });
});

describe('parseNotificationState', () => {
  it.each([
    [1, false],
    [2, true],
    [3, true],
    [4, true],
    [5, false],
    [6, false],
    [7, false],
  ])('QUERY_USER_NOTIFICATION_STATE %i → inhibited %s', (value, inhibited) => {
    const reading = parseNotificationState(value);
    expect(reading.ok && reading.value.inhibited).toBe(inhibited);
  });

  it.each([0, 8, -1, 2.5, Number.NaN])('refuses %s', (value) => {
    expect(parseNotificationState(value).ok).toBe(false);
  });
});
