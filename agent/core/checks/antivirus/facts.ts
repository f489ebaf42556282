/** Where an anti-virus product was found. */
export type ProductSource =
  'windows-security-center' | 'microsoft-defender' | 'xprotect' | 'clamav';

/** Whether a product is protecting the device now. `passive` = installed but standing aside. */
export type ProtectionState = 'on' | 'off' | 'snoozed' | 'expired' | 'passive' | 'unknown';

/** One anti-virus product as the OS reports it. Plain JSON so it can travel as evidence. */
export type AntivirusProduct = {
  name: string;
  source: ProductSource;
  state: ProtectionState;
  /** The product's own verdict on its signatures: true out of date, false current, null silent. */
  signaturesOutOfDate: boolean | null;
  /** When the signatures were built or installed (ISO 8601 with offset), null when unknown. */
  signaturesUpdatedAt: string | null;
  /** Signature age in whole days as the product reports it, null when not reported. */
  signatureAgeDays: number | null;
  /** Signature or product version, for ICT; never used to decide. */
  version: string | null;
  /** Raw evidence in a few words, e.g. `productState 0x61100` or `clamd running`. */
  detail: string | null;
};

/** Facts of the `antivirus` check, the same shape on every OS. */
export type AntivirusFacts = {
  products: AntivirusProduct[];
  /** macOS Gatekeeper assessments; null on other OSes. */
  gatekeeper: 'enabled' | 'disabled' | null;
  /**
   * Parts of the probe that failed so the product list may be incomplete. With any of these,
   * "no product found" is not a finding but an unknown.
   */
  errors: string[];
};

/** ISO 8601 with an explicit offset: anything else is read as unknown, never as local time. */
export const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** A product with every optional field empty; parsers fill in what the OS said. */
export function product(
  name: string,
  source: ProductSource,
  state: ProtectionState,
  rest: Partial<Omit<AntivirusProduct, 'name' | 'source' | 'state'>> = {},
): AntivirusProduct {
  return {
    name,
    source,
    state,
    signaturesOutOfDate: null,
    signaturesUpdatedAt: null,
    signatureAgeDays: null,
    version: null,
    detail: null,
    ...rest,
  };
}
