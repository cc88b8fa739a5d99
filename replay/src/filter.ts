/**
 * `--where`: a small filter language over a replayed record, parsed into a tree and evaluated,
 * never handed to eval. Paths name fields of the record as it is written out (`type`,
 * `partition`, `offset`, `timestamp`, `value.role`, `value.metadata.actor`, `headers.parley.type`
 * is `headers["parley.type"]`: header names are one segment after `headers.`).
 *
 *   expr       := or
 *   or         := and ("or" and)*
 *   and        := unary ("and" unary)*
 *   unary      := "not" unary | "(" expr ")" | comparison
 *   comparison := path op literal | path "exists"
 *   op         := == | != | < | <= | > | >= | contains | startswith
 *   literal    := "string" | 'string' | number | true | false | null
 *
 * It runs after personal data is removed, so it can never reveal what a replay does not show.
 */

export class FilterSyntaxError extends Error {
  constructor(message: string, position: number) {
    super(`--where: ${message} at character ${position + 1}`);
    this.name = 'FilterSyntaxError';
  }
}

type Literal = string | number | boolean | null;
const OPS = ['==', '!=', '<=', '>=', '<', '>', 'contains', 'startswith'] as const;
type Op = (typeof OPS)[number];

type Node =
  | { kind: 'or' | 'and'; left: Node; right: Node }
  | { kind: 'not'; operand: Node }
  | { kind: 'compare'; path: string[]; op: Op; value: Literal }
  | { kind: 'exists'; path: string[] };

interface Token {
  text: string;
  at: number;
  literal?: Literal;
}

const TOKEN =
  /\s*(?:("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.])|(==|!=|<=|>=|<|>|\(|\))|([A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*))/y;

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < source.length) {
    if (/^\s*$/.test(source.slice(at))) break;
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(source);
    if (!m)
      throw new FilterSyntaxError(
        'unexpected character',
        at + (/^\s*/.exec(source.slice(at))?.[0].length ?? 0),
      );
    const start = m.index + m[0].length - (m[1] ?? m[2] ?? m[3] ?? m[4] ?? '').length;
    if (m[1] !== undefined) {
      const quote = m[1][0];
      const body = m[1].slice(1, -1).replace(/\\(.)/g, '$1');
      tokens.push({ text: quote ?? '"', at: start, literal: body });
    } else if (m[2] !== undefined) {
      tokens.push({ text: m[2], at: start, literal: Number(m[2]) });
    } else {
      const word = m[3] ?? m[4] ?? '';
      const keyword: Record<string, Literal> = { true: true, false: false, null: null };
      tokens.push(
        word in keyword
          ? { text: word, at: start, literal: keyword[word] ?? null }
          : { text: word, at: start },
      );
    }
    at = TOKEN.lastIndex;
  }
  return tokens;
}

/** Parses an expression; throws FilterSyntaxError naming where it went wrong. */
export function parseFilter(source: string): Node {
  if (source.length > 2000) throw new FilterSyntaxError('the expression is too long', 2000);
  const tokens = tokenize(source);
  let i = 0;
  const peek = () => tokens[i];
  const end = source.length;
  const expect = (what: string) => {
    const t = tokens[i];
    if (!t) throw new FilterSyntaxError(`expected ${what}, found the end`, end);
    return t;
  };
  let depth = 0;
  const or = (): Node => {
    let left = and();
    while (peek()?.text === 'or') {
      i++;
      left = { kind: 'or', left, right: and() };
    }
    return left;
  };
  const and = (): Node => {
    let left = unary();
    while (peek()?.text === 'and') {
      i++;
      left = { kind: 'and', left, right: unary() };
    }
    return left;
  };
  const unary = (): Node => {
    const t = expect('a comparison');
    if (t.text === 'not' && t.literal === undefined) {
      i++;
      return { kind: 'not', operand: unary() };
    }
    if (t.text === '(') {
      if (++depth > 32) throw new FilterSyntaxError('too deeply nested', t.at);
      i++;
      const inner = or();
      const close = expect('")"');
      if (close.text !== ')') throw new FilterSyntaxError('expected ")"', close.at);
      i++;
      depth--;
      return inner;
    }
    return comparison();
  };
  const comparison = (): Node => {
    const p = expect('a field path');
    if (
      p.literal !== undefined ||
      !/^[A-Za-z_]/.test(p.text) ||
      ['and', 'or', 'not'].includes(p.text)
    ) {
      throw new FilterSyntaxError(`expected a field path, found ${p.text}`, p.at);
    }
    i++;
    const path = p.text.split('.');
    const o = expect('an operator');
    if (o.text === 'exists') {
      i++;
      return { kind: 'exists', path };
    }
    if (!(OPS as readonly string[]).includes(o.text)) {
      throw new FilterSyntaxError(
        `expected an operator (${OPS.join(' ')} exists), found ${o.text}`,
        o.at,
      );
    }
    i++;
    const v = expect('a value');
    if (v.literal === undefined) {
      throw new FilterSyntaxError(
        `expected a quoted string, a number, true, false or null, found ${v.text}`,
        v.at,
      );
    }
    i++;
    return { kind: 'compare', path, op: o.text as Op, value: v.literal };
  };
  const tree = or();
  const rest = tokens[i];
  if (rest) throw new FilterSyntaxError(`unexpected ${rest.text}`, rest.at);
  return tree;
}

/** A field of a record by path; `headers.<name>` takes the rest of the path as one header name. */
export function fieldAt(record: unknown, path: readonly string[]): unknown {
  if (path[0] === 'headers') {
    // A record's headers may be a getter (parsed when first asked for), never an own field.
    const headers = (record as { headers?: Record<string, unknown> }).headers;
    return path.length === 1 ? headers : headers?.[path.slice(1).join('.')];
  }
  let here: unknown = record;
  for (const key of path) {
    if (here === null || typeof here !== 'object' || !Object.hasOwn(here, key)) return undefined;
    here = (here as Record<string, unknown>)[key];
  }
  return here;
}

function compare(actual: unknown, op: Op, expected: Literal): boolean {
  // Numbers written as strings (offsets, longs) compare as numbers against a number.
  const a =
    typeof expected === 'number' && typeof actual === 'string' && actual.trim() !== ''
      ? Number(actual)
      : actual;
  switch (op) {
    case '==':
      return a === expected || (a === undefined && expected === null);
    case '!=':
      return !(a === expected || (a === undefined && expected === null));
    case 'contains':
      return typeof a === 'string' && typeof expected === 'string' && a.includes(expected);
    case 'startswith':
      return typeof a === 'string' && typeof expected === 'string' && a.startsWith(expected);
    default: {
      const comparable =
        (typeof a === 'number' && typeof expected === 'number') ||
        (typeof a === 'string' && typeof expected === 'string');
      if (!comparable) return false;
      const [x, y] = [a as number | string, expected as number | string];
      if (op === '<') return x < y;
      if (op === '<=') return x <= y;
      if (op === '>') return x > y;
      return x >= y;
    }
  }
}

function evaluate(node: Node, record: unknown): boolean {
  switch (node.kind) {
    case 'or':
      return evaluate(node.left, record) || evaluate(node.right, record);
    case 'and':
      return evaluate(node.left, record) && evaluate(node.right, record);
    case 'not':
      return !evaluate(node.operand, record);
    case 'exists': {
      const v = fieldAt(record, node.path);
      return v !== undefined && v !== null;
    }
    case 'compare':
      return compare(fieldAt(record, node.path), node.op, node.value);
  }
}

/** A predicate over replayed records from a `--where` expression. */
export function compileFilter(source: string): (record: unknown) => boolean {
  const tree = parseFilter(source);
  return (record) => evaluate(tree, record);
}
