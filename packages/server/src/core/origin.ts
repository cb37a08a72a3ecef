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

/** The host name of a Host header (`[::1]:8080` → `::1`), lower case. */
function hostnameOf(host: string): string {
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d*$/, '');
  return name.toLowerCase();
}

/** Whether `name` (an address to listen on, or a host name without port) is a loopback address or name. */
export function isLoopbackHost(name: string): boolean {
  const lower = name.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return (
    lower === 'localhost' ||
    lower.endsWith('.localhost') ||
    lower === '::1' ||
    /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(lower)
  );
}

/**
 * Whether a request's Host header names this hub: a loopback name, or the host of an origin the
 * config lists (`"*"` names none). A hub listening on loopback refuses other Hosts, which is what
 * stops DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 sends
 * `Host: evil.example`, and to that page the request is same-origin, so no Origin check would refuse it.
 */
export function isOwnHost(host: string | undefined, origins: readonly string[]): boolean {
  if (host === undefined) return true; // HTTP/1.0 clients; every browser sends a Host
  const name = hostnameOf(host);
  if (isLoopbackHost(name)) return true;
  for (const entry of origins) {
    if (entry === '*') continue;
    const listed = new URL(entry.replace('://*.', '://')).hostname.toLowerCase();
    if (entry.includes('://*.') ? name.endsWith(`.${listed}`) : name === listed) return true;
  }
  return false;
}
