// The device's group name beside its policy (`GET /api/v1/policy`): the server names it, the
// agent keeps it for AUP rules by device group. Header values are ASCII, names are not: the
// name travels URI-encoded, and whatever arrives is checked before it is believed.

/** The header the server names the device's group in. */
export const DEVICE_GROUP_HEADER = 'hallpass-device-group';

/** The header value for a group name. */
export function encodeDeviceGroup(name: string): string {
  return encodeURIComponent(name);
}

/** The group name from a header value; null when absent or not a plausible name. */
export function decodeDeviceGroup(value: string | null): string | null {
  if (value === null || value.length > 1800) {
    return null;
  }
  let name: string;
  try {
    name = decodeURIComponent(value);
  } catch {
    return null;
  }
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  const control = /[\u0000-\u001f\u007f]/;
  return name.length === 0 || name.length > 200 || control.test(name) ? null : name;
}
