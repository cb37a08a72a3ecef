/**
 * Whether a browser Origin may connect. No Origin (a server or CLI client: the header is a browser
 * protection) and same-origin requests always may; otherwise the origin must be listed, `*` allowing
 * any and `https://*.example.com` any subdomain of example.com.
 */
export function isOriginAllowed(
  allowed: readonly string[],
  origin: string | undefined,
  host?: string,
): boolean {
  if (origin === undefined || allowed.includes('*')) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // "null" (sandboxed frames, file://) and garbage
  }
  if (host !== undefined && url.host === host.toLowerCase()) return true;
  const normalised = url.origin;
  for (const entry of allowed) {
    const wildcard = entry.indexOf('://*.');
    if (wildcard === -1) {
      if (entry.toLowerCase() === normalised) return true;
      continue;
    }
    const scheme = entry.slice(0, wildcard + 1);
    const suffix = entry.slice(wildcard + 4).toLowerCase();
    if (url.protocol === scheme && url.host.endsWith(suffix) && url.host.length > suffix.length) return true;
  }
  return false;
}
