import type { Host } from '../../host.ts';
import { parseJsonOutput, runPowerShellScript } from '../../powershell.ts';
import { platformCheck, type Parsed } from '../define-check.ts';
import {
  ISO_WITH_OFFSET,
  product,
  type AntivirusFacts,
  type AntivirusProduct,
  type ProtectionState,
} from './facts.ts';

const TIMEOUT_MS = 30_000;

/** Runs windows.ps1 and returns its standard output (one JSON object). */
export function probe(host: Host): Promise<string> {
  return runPowerShellScript(host, new URL('./windows.ps1', import.meta.url), TIMEOUT_MS);
}

type Bad = { ok: false; code: 'unrecognised-output'; detail: string };
const bad = (detail: string): Bad => ({ ok: false, code: 'unrecognised-output', detail });

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Decodes Security Center's undocumented `productState`. Community reverse-engineering (see
 * PLATFORMS.md §2), not a Microsoft contract: bits 12–15 are the state (0 off, 1 on, 2 snoozed,
 * 3 expired), bits 4–7 the signatures (0 current, 1 out of date). The documented wscapi
 * WSC_SECURITY_PRODUCT_STATE numbers its states differently; never mix the two.
 */
export function decodeProductState(value: number): {
  state: ProtectionState;
  signaturesOutOfDate: boolean | null;
} {
  const states: readonly ProtectionState[] = ['off', 'on', 'snoozed', 'expired'];
  const signatures = (value >> 4) & 0xf;
  return {
    state: states[(value >> 12) & 0xf] ?? 'unknown',
    signaturesOutOfDate: signatures === 0 ? false : signatures === 1 ? true : null,
  };
}

/** Parses the `securityCenter.products` list: every entry needs a name and a numeric state. */
export function parseSecurityCenter(
  section: unknown,
): Parsed<{ products: AntivirusProduct[]; defenderIndex: number }> {
  if (!isRecord(section)) {
    return bad('securityCenter is not an object');
  }
  let list = section.products;
  // Windows PowerShell 5.1 can serialise a wrapped array as { value: [...], Count: n }.
  if (isRecord(list) && Array.isArray(list.value)) {
    list = list.value;
  }
  if (!Array.isArray(list)) {
    return bad('securityCenter.products is not a list');
  }
  const products: AntivirusProduct[] = [];
  let defenderIndex = -1;
  for (const entry of list) {
    if (
      !isRecord(entry) ||
      typeof entry.displayName !== 'string' ||
      entry.displayName.trim() === ''
    ) {
      return bad('a Security Center product has no displayName');
    }
    const state = entry.productState;
    if (typeof state !== 'number' || !Number.isInteger(state) || state < 0) {
      return bad(`${entry.displayName} has no numeric productState`);
    }
    // Defender registers as `windowsdefender://` on Windows 10/11 (older builds: the path of
    // MSASCui.exe); the display name is not used because it changed and may be localised.
    const path =
      typeof entry.pathToSignedProductExe === 'string' ? entry.pathToSignedProductExe : '';
    if (defenderIndex === -1 && /^windowsdefender:|\\Windows Defender\\/i.test(path)) {
      defenderIndex = products.length;
    }
    products.push(
      product(entry.displayName, 'windows-security-center', decodeProductState(state).state, {
        signaturesOutOfDate: decodeProductState(state).signaturesOutOfDate,
        detail: `productState 0x${state.toString(16)}`,
      }),
    );
  }
  return { ok: true, facts: { products, defenderIndex } };
}

const NEVER = 65_535; // Defender reports uint max (4294967295) or 65535 for "never updated".

/** Parses the `defender` section (Get-MpComputerStatus) into a Defender product. */
export function parseDefender(section: unknown): Parsed<{ defender: AntivirusProduct }> {
  if (!isRecord(section)) {
    return bad('defender is not an object');
  }
  const flag = (key: string): boolean | null => {
    const value = section[key];
    return typeof value === 'boolean' ? value : null;
  };
  const service = flag('AMServiceEnabled');
  const antivirus = flag('AntivirusEnabled');
  const realTime = flag('RealTimeProtectionEnabled');
  if (service === null && antivirus === null && realTime === null) {
    return bad(
      'defender section has none of AMServiceEnabled, AntivirusEnabled, RealTimeProtectionEnabled',
    );
  }
  const mode = typeof section.AMRunningMode === 'string' ? section.AMRunningMode.trim() : '';
  let state: ProtectionState;
  if (mode !== '' && mode !== 'Normal') {
    // 'Passive Mode', 'SxS Passive Mode', 'EDR Block Mode': another product is primary
    // (MS Learn "Microsoft Defender Antivirus compatibility"); 'Not running': stopped.
    state = /passive|edr block/i.test(mode) ? 'passive' : 'off';
  } else if (service === false || antivirus === false || realTime === false) {
    state = 'off';
  } else if (service === true && antivirus === true && realTime === true) {
    state = 'on';
  } else {
    state = 'unknown';
  }
  const age = section.AntivirusSignatureAge;
  const updated = section.AntivirusSignatureLastUpdated;
  const outOfDate = flag('DefenderSignaturesOutOfDate');
  const tamper = flag('IsTamperProtected');
  const version = section.AntivirusSignatureVersion;
  return {
    ok: true,
    facts: {
      defender: product('Microsoft Defender Antivirus', 'microsoft-defender', state, {
        signaturesOutOfDate: outOfDate,
        signatureAgeDays:
          typeof age === 'number' && Number.isInteger(age) && age >= 0 && age < NEVER ? age : null,
        signaturesUpdatedAt:
          typeof updated === 'string' && ISO_WITH_OFFSET.test(updated) ? updated : null,
        version: typeof version === 'string' && version !== '' ? version : null,
        detail: `AMRunningMode ${mode === '' ? 'not reported' : mode}; tamper protection ${tamper === null ? 'not reported' : tamper ? 'on' : 'off'}`,
      }),
    },
  };
}

function mergeDefender(wsc: AntivirusProduct, mp: AntivirusProduct): AntivirusProduct {
  // Both must say "on": Security Center can lag behind Defender's own status and vice versa.
  const state = mp.state !== 'on' ? mp.state : wsc.state;
  const outOfDate =
    wsc.signaturesOutOfDate === true || mp.signaturesOutOfDate === true
      ? true
      : (mp.signaturesOutOfDate ?? wsc.signaturesOutOfDate);
  return {
    ...mp,
    name: wsc.name,
    state,
    signaturesOutOfDate: outOfDate,
    detail: `${wsc.detail ?? ''}; ${mp.detail ?? ''}`,
  };
}

function sectionError(section: unknown): string | null {
  return isRecord(section) && typeof section.error === 'string' ? section.error : null;
}

/** Turns the script's JSON into facts; any unexpected shape is unrecognised, never a guess. */
export function parse(raw: string): Parsed<AntivirusFacts> {
  const output = parseJsonOutput(raw);
  if (!isRecord(output) || !('securityCenter' in output) || !('defender' in output)) {
    return bad(`not the antivirus probe's JSON: ${raw.trim().slice(0, 200)}`);
  }
  const errors: string[] = [];
  let products: AntivirusProduct[] = [];
  let defenderIndex = -1;
  const wscError = sectionError(output.securityCenter);
  if (wscError !== null) {
    // Windows Server has no root/SecurityCenter2 ("Invalid namespace"): third-party products
    // are then invisible, so the list is incomplete.
    errors.push(`Security Center: ${wscError.trim()}`);
  } else {
    const wsc = parseSecurityCenter(output.securityCenter);
    if (!wsc.ok) {
      return wsc;
    }
    products = wsc.facts.products;
    defenderIndex = wsc.facts.defenderIndex;
  }
  const mpError = sectionError(output.defender);
  if (mpError !== null) {
    // 0x800106ba: the Defender service is stopped, which is normal beside a third-party
    // product. It only leaves a gap when Security Center could not be read either.
    const registered = products[defenderIndex];
    if (wscError !== null) {
      errors.push(`Get-MpComputerStatus: ${mpError.trim()}`);
    } else if (registered) {
      // Kept as evidence for ICT: it explains why Defender shows no signature age.
      products[defenderIndex] = {
        ...registered,
        detail: `${registered.detail ?? ''}; Get-MpComputerStatus: ${mpError.trim()}`,
      };
    }
  } else {
    const mp = parseDefender(output.defender);
    if (!mp.ok) {
      return mp;
    }
    const registered = products[defenderIndex];
    if (registered) {
      products[defenderIndex] = mergeDefender(registered, mp.facts.defender);
    } else {
      products = [...products, mp.facts.defender];
    }
  }
  return { ok: true, facts: { products, gatekeeper: null, errors } };
}

/** Windows half of the antivirus check. */
export const windows = platformCheck({ probe, parse });
