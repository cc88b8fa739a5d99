/**
 * What text the APIs take, decided once for every route: request bodies are JSON in UTF-8 (no
 * other charset, no invalid byte sequences), and every string of every request part is well
 * formed (no lone UTF-16 surrogates) and free of control characters. Tab, line feed and carriage
 * return are allowed only in fields whose schema says `'x-text': 'multiline'` (message text);
 * names, titles, ids and the rest are single lines. Stores downstream refuse some of these (the
 * MongoDB wire protocol refuses NUL), and one refused event must never reach a projection.
 */
import type { Ajv } from 'ajv';
import sjson from 'secure-json-parse';
import { AppError } from './errors.ts';

export const TEXT_KEYWORD = 'x-text';
export type TextKind = 'line' | 'multiline';

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const DEL = 0x7f;

const isControl = (code: number, kind: TextKind) =>
  (code < 0x20 || code === DEL) &&
  !(kind === 'multiline' && (code === TAB || code === LF || code === CR));

const hex = (code: number) => code.toString(16).toUpperCase().padStart(4, '0');

/**
 * Why a string is refused as text of this kind, or undefined when it is fine: C0 controls and
 * DEL (the multiline kind allows tab, LF and CR among them), and lone UTF-16 surrogates.
 */
export function textProblem(value: string, kind: TextKind): string | undefined {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (isControl(code, kind)) {
      return `must not contain control characters (U+${hex(code)} at index ${i})`;
    }
    if (code >= 0xd800 && code <= 0xdfff) {
      const next = value.charCodeAt(i + 1);
      // A high surrogate followed by a low one is one character; anything else is lone.
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++;
      else return `must be well-formed Unicode (a lone surrogate U+${hex(code)} at index ${i})`;
    }
  }
  return undefined;
}

/** Adds the text keyword to an Ajv instance: `'x-text': 'line' | 'multiline'` on string schemas. */
export function addTextKeyword(ajv: Ajv): Ajv {
  ajv.addKeyword({
    keyword: TEXT_KEYWORD,
    type: 'string',
    schemaType: 'string',
    errors: true,
    validate: function validateText(this: unknown, kind: TextKind, data: string): boolean {
      const problem = textProblem(data, kind);
      if (problem === undefined) return true;
      (validateText as unknown as { errors: unknown[] }).errors = [
        { keyword: TEXT_KEYWORD, message: problem, params: { kind } },
      ];
      return false;
    },
  });
  return ajv;
}

type SchemaNode = { [key: string]: unknown };

const isStringSchema = (node: SchemaNode) =>
  node.type === 'string' || (Array.isArray(node.type) && node.type.includes('string'));

/**
 * A copy of a route schema in which every string schema carries the text keyword: `line` unless
 * it says otherwise. The route's own schema (what the OpenAPI document shows) is left as it is.
 */
export function withTextRules(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withTextRules);
  if (typeof schema !== 'object' || schema === null) return schema;
  const node = schema as SchemaNode;
  const copy: SchemaNode = {};
  for (const [key, value] of Object.entries(node)) {
    // `const`, `enum`, `default` and `examples` hold values, not schemas.
    copy[key] = ['const', 'enum', 'default', 'examples'].includes(key)
      ? value
      : withTextRules(value);
  }
  if (isStringSchema(node) && copy[TEXT_KEYWORD] === undefined) copy[TEXT_KEYWORD] = 'line';
  return copy;
}

/** A JSON body that is not JSON, not UTF-8, or sent with another charset. */
export const BadBody = (code: string, detail: string) => new AppError(code, 400, detail);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The charset parameter of a Content-Type, lower-cased and unquoted; undefined without one. */
export function charsetOf(contentType: string | undefined): string | undefined {
  const match = /;\s*charset\s*=\s*("?)([^";\s]*)\1/i.exec(contentType ?? '');
  return match ? (match[2] ?? '').toLowerCase() : undefined;
}

/**
 * Parses a JSON request body: UTF-8 only (a charset parameter other than utf-8 is refused rather
 * than guessed), invalid byte sequences refused instead of silently replaced, and
 * `__proto__`/`constructor.prototype` keys refused (prototype poisoning).
 */
export function parseJsonBody(contentType: string | undefined, body: Buffer): unknown {
  const charset = charsetOf(contentType);
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw BadBody(
      'UNSUPPORTED_CHARSET',
      `body: the charset must be utf-8, not '${charset.slice(0, 40)}'`,
    );
  }
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw BadBody('INVALID_UTF8', 'body: not valid UTF-8');
  }
  // No body at all: the route's schema decides (a route that wants one answers 400 naming it;
  // a bodiless POST such as archive is fine, whatever Content-Type the client sent).
  if (text.trim() === '') return undefined;
  try {
    return sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    throw BadBody(
      'INVALID_JSON',
      `body: not valid JSON (${error instanceof Error ? error.message.slice(0, 200) : 'parse error'})`,
    );
  }
}
