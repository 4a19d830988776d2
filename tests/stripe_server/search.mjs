// Stripe's search query language, the part that PaymentIntent search uses
// (https://docs.stripe.com/search#search-query-language):
//   clause   := ['-'] field op value
//   field    := amount | created | currency | customer | status | metadata['key'] | metadata["key"]
//   op       := ':' (exact, case-insensitive) | '~' (substring, 3+ chars) | '>' | '<' | '>=' | '<='
//   value    := 'text' | "text" | number | null
//   query    := clause (AND clause)* | clause (OR clause)*   (AND and OR cannot be mixed)
// Results are immediately consistent (Stripe's can lag by up to a minute).
import {invalidParam} from './errors.mjs';

const FIELDS = ['amount', 'created', 'currency', 'customer', 'status'];
const NUMERIC = ['amount', 'created'];

function queryError(message) {
  return invalidParam('query', message);
}

function tokenize(query) {
  const tokens = [];
  let i = 0;
  while (i < query.length) {
    const c = query[i];
    if (/\s/.test(c)) {
      ++i;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      let text = '';
      while (j < query.length && query[j] !== c) {
        if (query[j] === '\\' && j + 1 < query.length) ++j;
        text += query[j++];
      }
      if (j >= query.length) throw queryError(`Unterminated string in query: ${query.slice(i)}`);
      tokens.push({kind: 'string', text});
      i = j + 1;
    } else if (c === '[' || c === ']' || c === '-') {
      tokens.push({kind: c});
      ++i;
    } else if (c === ':' || c === '~') {
      tokens.push({kind: 'op', text: c});
      ++i;
    } else if (c === '>' || c === '<') {
      const op = query[i + 1] === '=' ? c + '=' : c;
      tokens.push({kind: 'op', text: op});
      i += op.length;
    } else {
      const m = /^[A-Za-z0-9_.]+/.exec(query.slice(i));
      if (!m) throw queryError(`Unexpected character '${c}' in query`);
      tokens.push({kind: 'word', text: m[0]});
      i += m[0].length;
    }
  }
  return tokens;
}

// Returns a predicate over payment_intent objects.
export function compileQuery(query) {
  if (typeof query !== 'string' || query.trim() === '') throw queryError('Missing required param: query.');
  const tokens = tokenize(query);
  let pos = 0;
  const peek = () => tokens[pos];
  const next = (kind) => {
    const t = tokens[pos++];
    if (!t || (kind && t.kind !== kind)) throw queryError(`Malformed query near token ${pos}: ${query}`);
    return t;
  };
  const clauses = [];
  let joiner = null;
  for (;;) {
    let negate = false;
    if (peek()?.kind === '-') {
      next();
      negate = true;
    }
    const name = next('word').text;
    let field;
    if (name === 'metadata') {
      next('[');
      field = {metadata: next('string').text};
      next(']');
    } else if (FIELDS.includes(name)) {
      field = {name};
    } else {
      throw queryError(`Field '${name}' is an unsupported search field for payment_intents. See https://stripe.com/docs/search#query-fields-for-payment-intents for a list of supported fields.`);
    }
    const op = next('op').text;
    const v = next();
    let value;
    if (v.kind === 'string') value = v.text;
    else if (v.kind === 'word' && /^-?\d+(\.\d+)?$/.test(v.text)) value = Number(v.text);
    else if (v.kind === 'word' && v.text === 'null') value = null;
    else throw queryError(`Malformed value in query: ${query}`);
    if (op !== ':' && op !== '~' && !(field.name && NUMERIC.includes(field.name))) {
      throw queryError(`Comparison operators are only supported on numeric fields (${NUMERIC.join(', ')}).`);
    }
    if (op === '~' && (typeof value !== 'string' || value.length < 3)) {
      throw queryError('The substring operator ~ needs a value of at least 3 characters.');
    }
    clauses.push({field, op, value, negate});
    const t = peek();
    if (!t) break;
    if (t.kind !== 'word' || (t.text !== 'AND' && t.text !== 'OR')) throw queryError(`Expected AND or OR in query: ${query}`);
    if (joiner && joiner !== t.text) throw queryError('Mixing AND and OR in a query is not supported.');
    joiner = t.text;
    next();
  }
  const test = (pi, {field, op, value, negate}) => {
    let actual = field.metadata !== undefined ? pi.metadata[field.metadata] : pi[field.name];
    if (actual === undefined) actual = null;
    let ok;
    if (value === null) ok = actual === null;
    else if (op === ':') {
      ok = actual !== null && (typeof value === 'number' ? Number(actual) === value
        : String(actual).toLowerCase() === value.toLowerCase());
    } else if (op === '~') ok = actual !== null && String(actual).toLowerCase().includes(value.toLowerCase());
    else {
      const a = Number(actual);
      ok = op === '>' ? a > value : op === '<' ? a < value : op === '>=' ? a >= value : a <= value;
    }
    return negate ? !ok : ok;
  };
  return joiner === 'OR'
    ? (pi) => clauses.some((c) => test(pi, c))
    : (pi) => clauses.every((c) => test(pi, c));
}
