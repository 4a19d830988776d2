// Reading and validating request parameters. Every failure here is a parameter-validation error:
// 400 invalid_request_error, not stored under the idempotency key.
import {asArray} from './form.mjs';
import {invalidParam, missingParam, unknownParam} from './errors.mjs';

export function checkKnown(params, allowed) {
  for (const key of Object.keys(params)) if (!allowed.includes(key)) throw unknownParam(key);
}

export function string(params, name, {required = false, max = 5000} = {}) {
  const v = params[name];
  if (v === undefined) {
    if (required) throw missingParam(name);
    return undefined;
  }
  if (typeof v !== 'string') throw invalidParam(name, `Invalid string: ${name} must be a string`);
  if (required && v === '') throw invalidParam(name, `You passed an empty string for '${name}'. We assume empty values are an attempt to unset a parameter; however '${name}' cannot be unset. You should remove '${name}' from your request or supply a non-empty value.`, 'parameter_invalid_empty');
  if (v.length > max) throw invalidParam(name, `Invalid ${name}: must be at most ${max} characters`);
  return v;
}

export function integer(params, name, {required = false} = {}) {
  const v = params[name];
  if (v === undefined || v === '') {
    if (required) throw missingParam(name);
    return undefined;
  }
  if (typeof v !== 'string' || !/^-?\d+$/.test(v)) {
    throw invalidParam(name, `Invalid integer: ${typeof v === 'string' ? v : name}`, 'parameter_invalid_integer');
  }
  return Number(v);
}

export function boolean(params, name) {
  const v = params[name];
  if (v === undefined || v === '') return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw invalidParam(name, `Invalid boolean: ${typeof v === 'string' ? v : name}`);
}

export function oneOf(params, name, values) {
  const v = string(params, name);
  if (v === undefined || v === '') return undefined;
  if (!values.includes(v)) {
    throw invalidParam(name, `Invalid ${name}: must be one of ${values.slice(0, -1).join(', ')}, or ${values.at(-1)}`);
  }
  return v;
}

export function list(params, name) {
  const v = asArray(params[name]);
  if (v === null || (v && !v.every((x) => typeof x === 'string'))) {
    throw invalidParam(name, `Invalid array: ${name} must be a list of strings`);
  }
  return v;
}

export function expandList(params) {
  return list(params, 'expand') || [];
}

// metadata[k]=v. Returns {set: {k: v}, unset: [k], clear: bool}; an empty value unsets a key and
// `metadata=` unsets them all (stripe.md §1).
export function metadata(params) {
  const v = params.metadata;
  if (v === undefined) return null;
  if (v === '') return {set: {}, unset: [], clear: true};
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw invalidParam('metadata', 'Invalid object: metadata must be a hash of string keys and string values');
  }
  const keys = Object.keys(v);
  if (keys.length > 50) {
    throw invalidParam('metadata', `Invalid metadata: metadata can have up to 50 keys, but you passed in ${keys.length} keys.`);
  }
  const out = {set: {}, unset: [], clear: false};
  for (const key of keys) {
    const value = v[key];
    if (typeof value !== 'string') {
      throw invalidParam(`metadata[${key}]`, `Invalid metadata: nested objects are not allowed (key '${key}'); metadata values must be strings`);
    }
    if (key.length > 40) {
      throw invalidParam(`metadata[${key}]`, `Invalid metadata: keys can be a maximum of 40 characters ('${key.slice(0, 40)}…' is ${key.length}).`);
    }
    if (value.length > 500) {
      throw invalidParam(`metadata[${key}]`, `Invalid metadata: values can be a maximum of 500 characters (key '${key}' has ${value.length}).`);
    }
    if (value === '') out.unset.push(key);
    else out.set[key] = value;
  }
  return out;
}

export function applyMetadata(current, change) {
  if (!change) return current;
  const next = change.clear ? {} : {...current};
  for (const k of change.unset) delete next[k];
  Object.assign(next, change.set);
  return next;
}

// Pagination parameters of list endpoints.
export function limit(params) {
  const n = integer(params, 'limit');
  if (n === undefined) return 10;
  if (n < 1 || n > 100) throw invalidParam('limit', `Invalid limit: must be between 1 and 100`);
  return n;
}

// Renders a newest-first list with limit / starting_after / ending_before.
export function paginate(items, params, url) {
  const n = limit(params);
  const after = string(params, 'starting_after');
  const before = string(params, 'ending_before');
  let start = 0;
  let end = items.length;
  if (after) {
    const i = items.findIndex((x) => x.id === after);
    if (i < 0) throw invalidParam('starting_after', `Invalid starting_after id: ${after}`);
    start = i + 1;
  } else if (before) {
    const i = items.findIndex((x) => x.id === before);
    if (i < 0) throw invalidParam('ending_before', `Invalid ending_before id: ${before}`);
    end = i;
    start = Math.max(0, end - n);
  }
  const page = items.slice(start, Math.min(end, start + n));
  return {object: 'list', data: page, has_more: start + n < end, url};
}
