// Headers of every dashboard response, error pages included.

/**
 * No inline script or style, nothing from elsewhere, never framed: device data shown on these
 * pages is untrusted, so even a rendering bug must not be able to run script.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Security and caching headers of dashboard pages and files. */
export const DASHBOARD_HEADERS = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'cache-control': 'no-cache',
} as const;
