// The server's check names (the governors' PDF) and the dashboard's are the same words.
import { expect, it } from 'vitest';
import { CHECK_NAMES } from '../../shared/check-names.ts';
import { CHECK_NAMES as DASHBOARD_CHECK_NAMES } from '../../ui/dashboard/check-names.ts';

it('names every check as the dashboard does', () => {
  expect(CHECK_NAMES).toEqual(DASHBOARD_CHECK_NAMES);
});
