/**
 * @module headers
 * Security headers sent on every dashboard response, errors and the event stream included.
 */

/**
 * No inline script or style anywhere: the page loads app.js and style.css from 'self', chart.js
 * from /vendor/. `img-src data:` lets the browser test's canvas exports and chart.js work;
 * `frame-ancestors 'none'` and X-Frame-Options (for older browsers) stop clickjacking of the
 * Apply button.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  // The login URL carries the token in its query; no-referrer keeps it out of other sites' logs.
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};
