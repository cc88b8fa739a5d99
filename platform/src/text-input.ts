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

/**
 * Fields that are trimmed before use (a conversation's title, a message) say `'x-not-blank': true`:
 * only spaces and line breaks would leave nothing, so the request is refused as it arrives.
 */
export const NOT_BLANK_KEYWORD = 'x-not-blank';
/** What `String.prototype.trim` removes: ECMAScript's white space and line terminators. */
const TRIMMED =
  '\\u0009-\\u000D\\u0020\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000\\uFEFF';
/** Not blank as a JSON Schema pattern: somewhere a character that trimming keeps. */
export const NOT_BLANK_PATTERN = `[^${TRIMMED}]`;

/**
 * Adds the text keywords to an Ajv instance: `'x-text': 'line' | 'multiline'` and
 * `'x-not-blank': true` on string schemas.
 */
export function addTextKeyword(ajv: Ajv): Ajv {
  ajv.addKeyword({
    keyword: NOT_BLANK_KEYWORD,
    type: 'string',
    schemaType: 'boolean',
    errors: true,
    validate: function validateNotBlank(this: unknown, wanted: boolean, data: string): boolean {
      if (!wanted || data.trim() !== '') return true;
      (validateNotBlank as unknown as { errors: unknown[] }).errors = [
        { keyword: NOT_BLANK_KEYWORD, message: 'must not be blank', params: {} },
      ];
      return false;
    },
  });
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

/** Keys whose values are values, not schemas. */
const VALUE_KEYS = ['const', 'enum', 'default', 'examples'];

/**
 * The text kind of a request part's strings unless their schema says otherwise: header values
 * may hold tabs (RFC 9110 field values; Node's parser refuses CR and LF in them), the body, the
 * path and the query are single lines.
 */
export const defaultTextKind = (part: string | undefined): TextKind =>
  // Fastify names the part `headers`, OpenAPI's parameters say `header`.
  part === 'headers' || part === 'header' ? 'multiline' : 'line';

/** A copy of a schema in which `finish` has seen every schema node's copy (values left alone). */
function copySchema(
  schema: unknown,
  finish: (copy: SchemaNode, node: SchemaNode) => void,
): unknown {
  if (Array.isArray(schema)) return schema.map((item) => copySchema(item, finish));
  if (typeof schema !== 'object' || schema === null) return schema;
  const node = schema as SchemaNode;
  const copy: SchemaNode = {};
  for (const [key, value] of Object.entries(node)) {
    copy[key] = VALUE_KEYS.includes(key) ? value : copySchema(value, finish);
  }
  finish(copy, node);
  return copy;
}

/**
 * A copy of a route schema in which every string schema carries the text keyword: `kind` unless
 * it says otherwise. The route's own schema (what the OpenAPI document shows) is left as it is.
 */
export const withTextRules = (schema: unknown, kind: TextKind = 'line'): unknown =>
  copySchema(schema, (copy, node) => {
    if (isStringSchema(node) && copy[TEXT_KEYWORD] === undefined) copy[TEXT_KEYWORD] = kind;
  });

/**
 * The text rule of each kind as a JSON Schema `pattern`, where clients and fuzzers can read it.
 * Lone surrogates are left out: they are not characters, so regex engines over code points (Rust's,
 * and so many JSON Schema tools) refuse a pattern naming them, and UTF-8 cannot carry one; only a
 * JSON `\\uD800` escape can, and `textProblem` refuses that.
 */
export const TEXT_PATTERNS: Record<TextKind, string> = {
  line: '^[^\\u0000-\\u001F\\u007F]*$',
  multiline: '^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F]*$',
};

/** A schema of the document with the text rule as a pattern on strings that have none. */
const documentedSchema = (schema: unknown, kind: TextKind): unknown =>
  copySchema(schema, (copy, node) => {
    if (!isStringSchema(node)) return;
    // A pattern, a format or a fixed set of values already keeps to the rule.
    if (['pattern', 'format', 'enum', 'const'].every((key) => node[key] === undefined)) {
      const own = node[TEXT_KEYWORD];
      copy.pattern = TEXT_PATTERNS[own === 'line' || own === 'multiline' ? own : kind];
    }
    // One `pattern` per schema: the second rule goes in an `allOf` beside it.
    if (node[NOT_BLANK_KEYWORD] === true) {
      const all = Array.isArray(copy.allOf) ? copy.allOf : [];
      copy.allOf = [...all, { pattern: NOT_BLANK_PATTERN }];
    }
  });

type Operation = {
  parameters?: Array<{ in?: string; schema?: unknown }>;
  requestBody?: { content?: Record<string, { schema?: unknown }> };
};

/**
 * An OpenAPI document whose request parameters and bodies show the text rules as patterns: the
 * validator checks them with the text keyword (for its clearer messages), the document says the
 * same thing in standard JSON Schema, so a schema-valid request is never refused for its text.
 */
export function withDocumentedTextRules<D extends { paths?: unknown }>(document: D): D {
  const documented = structuredClone(document);
  const paths = (documented.paths ?? {}) as Record<string, Record<string, unknown>>;
  for (const item of Object.values(paths)) {
    for (const value of Object.values(item)) {
      if (typeof value !== 'object' || value === null) continue;
      const operation = value as Operation;
      for (const parameter of operation.parameters ?? []) {
        parameter.schema = documentedSchema(parameter.schema, defaultTextKind(parameter.in));
      }
      for (const media of Object.values(operation.requestBody?.content ?? {})) {
        media.schema = documentedSchema(media.schema, 'line');
      }
    }
  }
  return documented;
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
