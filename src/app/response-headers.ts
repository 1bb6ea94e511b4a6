/**
 * Headers of a response on their way out, in the three shapes `writeHead()` takes (an object, a
 * flat `[name, value, …]` array, an array of pairs) on top of those set with `setHeader()`.
 * inject.ts reads them to decide, and rewrites them (Content-Length, ETag, the CSP) when it
 * changes the body.
 */
import type http from 'node:http';

export type Headers = http.OutgoingHttpHeaders | http.OutgoingHttpHeader[] | undefined;

/** A header from writeHead's argument, else as set on the response (`name` in lower case). */
export function headerOf(res: http.ServerResponse, headers: Headers, name: string): unknown {
  const given = valuesIn(headers, name);
  return given.length > 0 ? given[0] : res.getHeader(name);
}

/** Every value of a header, from writeHead's argument and as set on the response, as strings. */
export function headerValues(res: http.ServerResponse, headers: Headers, name: string): string[] {
  const set = res.getHeader(name);
  return [...valuesIn(headers, name), ...(set === undefined ? [] : [set])].flatMap((v) => (Array.isArray(v) ? v.map(String) : [String(v)]));
}

function valuesIn(headers: Headers, name: string): unknown[] {
  const out: unknown[] = [];
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      for (const pair of headers as unknown as unknown[][]) if (String(pair[0]).toLowerCase() === name) out.push(pair[1]);
    } else {
      for (let i = 0; i + 1 < headers.length; i += 2) if (String(headers[i]).toLowerCase() === name) out.push(headers[i + 1]);
    }
  } else if (headers) {
    for (const key of Object.keys(headers)) if (key.toLowerCase() === name) out.push(headers[key]);
  }
  return out;
}

/**
 * The headers in the shape given, each value passed through `fix(lowerCaseName, value)`; a
 * header whose fix returns undefined is dropped.
 */
export function rewriteHeaders(headers: Headers, fix: (name: string, value: unknown) => unknown): Headers {
  const fixed = (name: unknown, value: unknown) => fix(String(name).toLowerCase(), value);
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      const pairs = headers as unknown as unknown[][];
      return pairs.map((p) => [p[0], fixed(p[0], p[1])]).filter((p) => p[1] !== undefined) as never;
    }
    const out: unknown[] = [];
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const value = fixed(headers[i], headers[i + 1]);
      if (value !== undefined) out.push(headers[i], value);
    }
    return out as Headers;
  }
  if (!headers) return headers;
  const out: http.OutgoingHttpHeaders = {};
  for (const key of Object.keys(headers)) {
    const value = fixed(key, headers[key]);
    if (value !== undefined) out[key] = value as http.OutgoingHttpHeader;
  }
  return out;
}
