// Stripe's request encoding: application/x-www-form-urlencoded with bracket nesting
// (stripe.md §1). `metadata[k]=v` nests, `a[]=x` appends, `a[0]=x` is an index (kept as an
// object key, the way Rack parses it; `asArray` turns it into a list where the API expects one),
// and brackets may arrive raw or percent-encoded.

export class FormError extends Error {}

function decode(s) {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw new FormError(`Invalid URL encoding: ${s}`);
  }
}

// "a[b][]" -> ["a", "b", ""]; a key that is not well-formed bracket syntax stays literal.
function splitKey(key) {
  const m = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
  if (!m) return [key];
  const segments = [m[1]];
  for (const inner of m[2].matchAll(/\[([^[\]]*)\]/g)) segments.push(inner[1]);
  return segments;
}

function isContainer(v) {
  return v !== null && typeof v === 'object';
}

function insert(container, segments, value, fullKey) {
  const [head, ...rest] = segments;
  if (Array.isArray(container) && head === '') {
    if (rest.length === 0) {
      container.push(value);
      return;
    }
    // a[][x]=1&a[][y]=2 fills one element until a key repeats (Rack's rule).
    let last = container[container.length - 1];
    if (!isContainer(last) || Array.isArray(last) || rest[0] in last) {
      last = Object.create(null);
      container.push(last);
    }
    insert(last, rest, value, fullKey);
    return;
  }
  if (Array.isArray(container)) throw new FormError(`Invalid array: ${fullKey}`);
  if (rest.length === 0) {
    if (isContainer(container[head])) throw new FormError(`Invalid hash: ${fullKey}`);
    container[head] = value;
    return;
  }
  const wantArray = rest[0] === '';
  if (!(head in container)) container[head] = wantArray ? [] : Object.create(null);
  const child = container[head];
  if (!isContainer(child) || Array.isArray(child) !== wantArray) {
    throw new FormError(`Invalid ${wantArray ? 'array' : 'hash'}: ${fullKey}`);
  }
  insert(child, rest, value, fullKey);
}

// Parses a form body or query string into nested objects and arrays of strings. Objects have no
// prototype, so a key such as `metadata[__proto__]` or `metadata[toString]` is just a key.
export function parseForm(text) {
  const root = Object.create(null);
  if (!text) return root;
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = decode(eq < 0 ? part : part.slice(0, eq));
    const value = decode(eq < 0 ? '' : part.slice(eq + 1));
    if (key === '') continue;
    insert(root, splitKey(key), value, key);
  }
  return root;
}

// A list parameter: `x[]=a&x[]=b`, `x[0]=a&x[1]=b`, or a single `x=a`. Returns null when the
// value cannot be read as a list.
export function asArray(v) {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return v;
  if (isContainer(v)) {
    const keys = Object.keys(v);
    if (!keys.every((k) => /^\d+$/.test(k))) return null;
    return keys.sort((a, b) => Number(a) - Number(b)).map((k) => v[k]);
  }
  if (v === '') return [];
  return [v];
}

// A stable text form of parsed parameters (keys sorted), for "same parameters" checks.
export function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isContainer(v)) {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
