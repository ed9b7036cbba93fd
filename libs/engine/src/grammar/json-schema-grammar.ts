// JSON Schema → GBNF (llama.cpp grammar syntax, root rule `root`): the grammar the engine's token matcher enforces
// for `response_format: json_schema` and strict tool arguments. The output of a grammar built here always parses as
// JSON and validates against the schema, for the keywords this compiler supports; any other keyword that would
// constrain values is refused (JsonSchemaGrammarError names it) rather than silently not enforced.
//
// Supported: type (one or a list), enum, const, properties / required / additionalProperties (objects with declared
// properties take them in declared order, required and optional; extra keys are never generated), items,
// prefixItems, minItems / maxItems, minLength / maxLength, anyOf / oneOf (as alternatives), allOf of object
// schemas (merged), $ref to #/$defs/… or #/definitions/… (recursion allowed), true / {} (any JSON value).
// Annotations (title, description, default, examples, format, $schema, $id, strict, nullable:false) are ignored.
// The grammar only uses literals, character classes, groups, `?`, `*` and `+` (bounded repetition is expanded), so
// any GBNF reader takes it.

export class JsonSchemaGrammarError extends Error {
  constructor(
    message: string,
    /** JSON pointer of the offending place in the schema. */
    readonly path: string,
  ) {
    super(`${message} (at ${path === '' ? 'the schema root' : path})`);
    this.name = 'JsonSchemaGrammarError';
  }
}

type Schema = Record<string, unknown> | boolean;

/** Keywords that carry no constraint on the value (or one the grammar enforces by construction). */
const ANNOTATIONS = new Set([
  'title',
  'description',
  'default',
  'examples',
  'format',
  '$schema',
  '$id',
  '$comment',
  'strict',
  'deprecated',
  'readOnly',
  'writeOnly',
  '$defs',
  'definitions',
]);

const HANDLED = new Set([
  'type',
  'enum',
  'const',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'prefixItems',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'anyOf',
  'oneOf',
  'allOf',
  '$ref',
  'nullable',
]);

/** Longest bounded repetition expanded into the grammar (maxLength, maxItems); larger bounds are refused. */
export const MAX_GRAMMAR_REPETITION = 512;

/** Optional whitespace between tokens: bounded, so a model cannot spend its whole budget on indentation. */
const SPACE_RULE = 'space ::= ( " " | "\\n" ( [ \\t] ( [ \\t] ( [ \\t] ( [ \\t] )? )? )? )? )?';

const PRIMITIVES: Record<string, string> = {
  boolean: 'boolean ::= ( "true" | "false" ) space',
  null: 'null ::= "null" space',
  integer: 'integer ::= "-"? ( [0] | [1-9] [0-9]* ) space',
  number: 'number ::= "-"? ( [0] | [1-9] [0-9]* ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )? space',
  char: 'char ::= [^"\\\\\\x00-\\x1F\\x7F] | "\\\\" ( ["\\\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] )',
  string: 'string ::= "\\"" char* "\\"" space',
  value: 'value ::= object | array | string | number | boolean | null',
  object: 'object ::= "{" space ( string ":" space value ( "," space string ":" space value )* )? "}" space',
  array: 'array ::= "[" space ( value ( "," space value )* )? "]" space',
};

/** Which primitive rules each primitive needs. */
const PRIMITIVE_DEPS: Record<string, string[]> = {
  boolean: ['space'],
  null: ['space'],
  integer: ['space'],
  number: ['space'],
  char: [],
  string: ['char', 'space'],
  value: ['object', 'array', 'string', 'number', 'boolean', 'null'],
  object: ['string', 'value', 'space'],
  array: ['value', 'space'],
};

/** A grammar for any JSON object (`response_format: {type: "json_object"}`). */
export function jsonObjectGrammar(): string {
  const builder = new GrammarBuilder({});
  return builder.build(builder.visit({ type: 'object' }, 'root', ''));
}

/** The GBNF grammar whose sentences are exactly JSON texts valid against `schema` (within the supported keywords). */
export function jsonSchemaToGrammar(schema: unknown): string {
  if (typeof schema !== 'boolean' && !isObject(schema)) {
    throw new JsonSchemaGrammarError('a schema must be an object or a boolean', '');
  }
  const builder = new GrammarBuilder(schema);
  return builder.build(builder.visit(schema, 'root', ''));
}

/** A GBNF literal for `text`. */
export function gbnfLiteral(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** `item` repeated min..max times (max undefined: unbounded), with `separator` between items. */
export function gbnfRepeat(item: string, min: number, max: number | undefined, separator = ''): string {
  const sep = separator === '' ? '' : `${separator} `;
  const parts: string[] = [];
  for (let i = 0; i < min; i++) parts.push(i === 0 ? item : `${sep}${item}`);
  if (max === undefined) {
    parts.push(min === 0 ? `( ${item} ( ${sep}${item} )* )?` : `( ${sep}${item} )*`);
    return parts.join(' ');
  }
  // Optional extras nested so that each needs the one before it: ( a ( , a ( , a )? )? )?
  let tail = '';
  for (let i = max - min; i >= 1; i--) {
    const here = min === 0 && i === 1 ? item : `${sep}${item}`;
    tail = `( ${here}${tail === '' ? '' : ` ${tail}`} )?`;
  }
  if (tail !== '') parts.push(tail);
  return parts.length === 0 ? '""' : parts.join(' ');
}

class GrammarBuilder {
  private readonly rules = new Map<string, string>();
  private readonly refs = new Map<string, string>();
  private readonly primitives = new Set<string>();

  constructor(private readonly rootSchema: Schema) {}

  build(rootRule: string): string {
    if (rootRule !== 'root') this.rules.set('root', rootRule);
    this.usePrimitive('space');
    const lines: string[] = [];
    lines.push(`root ::= ${this.rules.get('root') ?? rootRule}`);
    for (const [name, body] of this.rules) if (name !== 'root') lines.push(`${name} ::= ${body}`);
    for (const name of this.primitives) lines.push(name === 'space' ? SPACE_RULE : PRIMITIVES[name]);
    return `${lines.join('\n')}\n`;
  }

  /** Returns a grammar expression (usually a rule name) for the schema; `name` suggests a rule name. */
  visit(schema: Schema, name: string, path: string): string {
    if (schema === true) return this.usePrimitive('value');
    if (schema === false) throw new JsonSchemaGrammarError('the schema false accepts no value', path);
    for (const key of Object.keys(schema)) {
      if (!HANDLED.has(key) && !ANNOTATIONS.has(key)) {
        throw new JsonSchemaGrammarError(`the keyword "${key}" is not supported in structured outputs`, path);
      }
    }
    if (schema['nullable'] === true) {
      const rest = { ...schema };
      delete rest['nullable'];
      return this.rule(name, `${this.visit(rest, `${name}-nn`, path)} | ${this.usePrimitive('null')}`);
    }
    if (typeof schema['$ref'] === 'string') return this.ref(schema['$ref'], path);
    if ('const' in schema) return this.rule(name, this.literalValue(schema['const'], `${path}/const`));
    if (Array.isArray(schema['enum'])) {
      const values = schema['enum'] as unknown[];
      if (values.length === 0) throw new JsonSchemaGrammarError('enum must not be empty', `${path}/enum`);
      return this.rule(name, values.map((v, i) => this.literalValue(v, `${path}/enum/${i}`)).join(' | '));
    }
    for (const keyword of ['anyOf', 'oneOf'] as const) {
      if (keyword in schema) {
        const branches = schema[keyword];
        if (!Array.isArray(branches) || branches.length === 0) {
          throw new JsonSchemaGrammarError(`${keyword} must be a non-empty array`, `${path}/${keyword}`);
        }
        const alternatives = branches.map((b, i) =>
          this.visit(asSchema(b, `${path}/${keyword}/${i}`), `${name}-${i}`, `${path}/${keyword}/${i}`),
        );
        return this.rule(name, alternatives.join(' | '));
      }
    }
    if ('allOf' in schema) return this.visit(this.mergeAllOf(schema, path), name, path);
    const type = schema['type'];
    if (Array.isArray(type)) {
      if (type.length === 0) throw new JsonSchemaGrammarError('type must not be an empty list', `${path}/type`);
      return this.rule(
        name,
        type.map((t) => this.visit({ ...schema, type: t }, `${name}-${String(t)}`, path)).join(' | '),
      );
    }
    switch (type) {
      case undefined:
        if (isObject(schema['properties'])) return this.object(schema, name, path);
        if ('items' in schema || 'prefixItems' in schema) return this.array(schema, name, path);
        return this.usePrimitive('value');
      case 'object':
        return this.object(schema, name, path);
      case 'array':
        return this.array(schema, name, path);
      case 'string':
        return this.string(schema, name, path);
      case 'integer':
      case 'number':
      case 'boolean':
      case 'null':
        return this.usePrimitive(type);
      default:
        throw new JsonSchemaGrammarError(`unknown type ${JSON.stringify(type)}`, `${path}/type`);
    }
  }

  private object(schema: Record<string, unknown>, name: string, path: string): string {
    const properties = schema['properties'];
    const additional = schema['additionalProperties'];
    if (properties !== undefined && !isObject(properties)) {
      throw new JsonSchemaGrammarError('properties must be an object', `${path}/properties`);
    }
    const required = schema['required'] ?? [];
    if (!Array.isArray(required) || !required.every((r) => typeof r === 'string')) {
      throw new JsonSchemaGrammarError('required must be an array of strings', `${path}/required`);
    }
    const names = Object.keys(properties ?? {});
    for (const r of required) {
      if (!names.includes(r)) {
        // A required key without a declared schema: any value under it.
        names.push(r);
      }
    }
    if (names.length === 0) {
      if (additional === false) return this.rule(name, '"{" space "}" space');
      if (additional === undefined || additional === true) return this.usePrimitive('object');
      const valueRule = this.visit(asSchema(additional, `${path}/additionalProperties`), `${name}-value`, path);
      const kv = `${this.usePrimitive('string')} ":" space ${valueRule}`;
      return this.rule(name, `"{" space ( ${kv} ( "," space ${kv} )* )? "}" space`);
    }
    const kvRule = (key: string): string => {
      const sub = (properties ?? {})[key];
      const valueRule =
        sub === undefined
          ? this.usePrimitive('value')
          : this.visit(
              asSchema(sub, `${path}/properties/${key}`),
              `${name}-${ruleName(key)}`,
              `${path}/properties/${escapePointer(key)}`,
            );
      return this.rule(
        `${name}-${ruleName(key)}-kv`,
        `${gbnfLiteral(JSON.stringify(key))} space ":" space ${valueRule}`,
      );
    };
    const requiredKeys = names.filter((k) => required.includes(k));
    const optionalKeys = names.filter((k) => !required.includes(k));
    let body = '"{" space';
    if (requiredKeys.length > 0) body += ` ${requiredKeys.map(kvRule).join(' "," space ')}`;
    if (optionalKeys.length > 0) {
      const kvs = optionalKeys.map(kvRule);
      // rest(i): the optional keys after i, each preceded by a comma, in declared order, any subset.
      const rest: string[] = [];
      for (let i = kvs.length - 1; i >= 0; i--) {
        const after = i + 1 < kvs.length ? ` ${rest[i + 1]}` : '';
        rest[i] = this.rule(`${name}-rest-${i}`, `( "," space ${kvs[i]} )?${after}`);
      }
      // Any non-empty subset: the first present key i, then rest(i+1).
      const alternatives = kvs.map((kv, i) => (i + 1 < kvs.length ? `${kv} ${rest[i + 1]}` : kv));
      const optional = alternatives.join(' | ');
      body += requiredKeys.length > 0 ? ` ( "," space ( ${optional} ) )?` : ` ( ${optional} )?`;
    }
    body += ' "}" space';
    return this.rule(name, body);
  }

  private array(schema: Record<string, unknown>, name: string, path: string): string {
    const minItems = this.count(schema, 'minItems', path) ?? 0;
    const maxItems = this.count(schema, 'maxItems', path);
    if (maxItems !== undefined && maxItems < minItems) {
      throw new JsonSchemaGrammarError('maxItems is below minItems', `${path}/maxItems`);
    }
    const prefix = schema['prefixItems'];
    const items = schema['items'];
    if (prefix !== undefined) {
      if (!Array.isArray(prefix)) throw new JsonSchemaGrammarError('prefixItems must be an array', path);
      if (items !== undefined && items !== false) {
        throw new JsonSchemaGrammarError('prefixItems is supported with items: false or absent', `${path}/items`);
      }
      if (minItems > 0 || maxItems !== undefined) {
        throw new JsonSchemaGrammarError('prefixItems is supported without minItems / maxItems', path);
      }
      const parts = prefix.map((p, i) =>
        this.visit(asSchema(p, `${path}/prefixItems/${i}`), `${name}-${i}`, `${path}/prefixItems/${i}`),
      );
      return this.rule(name, `"[" space ${parts.join(' "," space ')}${parts.length ? ' ' : ''}"]" space`);
    }
    if (Array.isArray(items)) throw new JsonSchemaGrammarError('items must be a schema (use prefixItems)', path);
    const item =
      items === undefined
        ? this.usePrimitive('value')
        : this.visit(asSchema(items, `${path}/items`), `${name}-item`, `${path}/items`);
    return this.rule(name, `"[" space ${gbnfRepeat(item, minItems, maxItems, '"," space')} "]" space`);
  }

  private string(schema: Record<string, unknown>, name: string, path: string): string {
    const minLength = this.count(schema, 'minLength', path);
    const maxLength = this.count(schema, 'maxLength', path);
    if (minLength === undefined && maxLength === undefined) return this.usePrimitive('string');
    if (maxLength !== undefined && maxLength < (minLength ?? 0)) {
      throw new JsonSchemaGrammarError('maxLength is below minLength', `${path}/maxLength`);
    }
    const char = this.usePrimitive('char');
    this.usePrimitive('space');
    return this.rule(name, `"\\"" ${gbnfRepeat(char, minLength ?? 0, maxLength)} "\\"" space`);
  }

  private count(schema: Record<string, unknown>, keyword: string, path: string): number | undefined {
    const value = schema[keyword];
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw new JsonSchemaGrammarError(`${keyword} must be a non-negative integer`, `${path}/${keyword}`);
    }
    if (value > MAX_GRAMMAR_REPETITION && keyword !== 'maxLength' && keyword !== 'maxItems') {
      throw new JsonSchemaGrammarError(
        `${keyword} above ${MAX_GRAMMAR_REPETITION} is not supported`,
        `${path}/${keyword}`,
      );
    }
    // A huge upper bound constrains nothing a model can reach in practice: treat it as unbounded.
    if (value > MAX_GRAMMAR_REPETITION) return undefined;
    return value;
  }

  private mergeAllOf(schema: Record<string, unknown>, path: string): Record<string, unknown> {
    const parts = schema['allOf'];
    if (!Array.isArray(parts) || parts.length === 0) {
      throw new JsonSchemaGrammarError('allOf must be a non-empty array', `${path}/allOf`);
    }
    const merged: Record<string, unknown> = { ...schema, type: 'object', properties: {}, required: [] };
    delete merged['allOf'];
    const properties = merged['properties'] as Record<string, unknown>;
    const required = merged['required'] as string[];
    const absorb = (part: Record<string, unknown>, at: string): void => {
      const resolved = typeof part['$ref'] === 'string' ? this.resolve(part['$ref'], at) : part;
      if (resolved === true) return;
      if (resolved === false || (resolved['type'] !== undefined && resolved['type'] !== 'object')) {
        throw new JsonSchemaGrammarError('allOf is supported for object schemas only', at);
      }
      Object.assign(properties, isObject(resolved['properties']) ? resolved['properties'] : {});
      if (Array.isArray(resolved['required'])) required.push(...(resolved['required'] as string[]));
      const extra = resolved['additionalProperties'];
      if (extra !== undefined && extra !== true) {
        // additionalProperties inside allOf judges each part's own properties only: rarely what was meant.
        throw new JsonSchemaGrammarError('additionalProperties is not supported together with allOf', at);
      }
    };
    absorb({ ...schema, allOf: undefined }, path);
    parts.forEach((p, i) => {
      if (!isObject(p)) throw new JsonSchemaGrammarError('allOf items must be schemas', `${path}/allOf/${i}`);
      absorb(p, `${path}/allOf/${i}`);
    });
    delete merged['allOf'];
    return merged;
  }

  private ref(ref: string, path: string): string {
    const known = this.refs.get(ref);
    if (known) return known;
    const name = uniqueName(`ref-${ruleName(ref.split('/').pop() ?? 'ref')}`, this.rules);
    this.refs.set(ref, name);
    this.rules.set(name, '""'); // reserved; filled below (recursion sees the name)
    const target = this.resolve(ref, path);
    const body = this.visit(target, `${name}-def`, ref.slice(1));
    this.rules.set(name, body);
    return name;
  }

  private resolve(ref: string, path: string): Schema {
    const match = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
    if (!match || typeof this.rootSchema === 'boolean') {
      throw new JsonSchemaGrammarError(`$ref ${ref} is not supported (only #/$defs/… and #/definitions/…)`, path);
    }
    const defs = this.rootSchema[match[1]];
    const key = match[2].replace(/~1/g, '/').replace(/~0/g, '~');
    const target = isObject(defs) ? defs[key] : undefined;
    if (target === undefined) throw new JsonSchemaGrammarError(`$ref ${ref} does not resolve`, path);
    return asSchema(target, ref.slice(1));
  }

  private literalValue(value: unknown, path: string): string {
    if (value === undefined) throw new JsonSchemaGrammarError('undefined is not a JSON value', path);
    return `${gbnfLiteral(JSON.stringify(value))} ${this.usePrimitive('space')}`;
  }

  private usePrimitive(name: string): string {
    if (!this.primitives.has(name)) {
      this.primitives.add(name);
      for (const dep of PRIMITIVE_DEPS[name] ?? []) this.usePrimitive(dep);
    }
    return name;
  }

  /** Adds a rule under a unique name derived from `name` and returns that name. */
  private rule(name: string, body: string): string {
    if (name === 'root' && !this.rules.has('root')) {
      this.rules.set('root', body);
      return 'root';
    }
    const unique = uniqueName(ruleName(name), this.rules);
    this.rules.set(unique, body);
    return unique;
  }
}

function uniqueName(base: string, taken: Map<string, string>): string {
  const reserved = new Set(Object.keys(PRIMITIVES).concat('space', 'root'));
  let name = base;
  for (let i = 1; taken.has(name) || reserved.has(name); i++) name = `${base}-${i}`;
  return name;
}

function ruleName(text: string): string {
  const cleaned = text.replace(/[^a-zA-Z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return cleaned === '' ? 'r' : cleaned;
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asSchema(value: unknown, path: string): Schema {
  if (typeof value === 'boolean' || isObject(value)) return value;
  throw new JsonSchemaGrammarError('a schema must be an object or a boolean', path);
}
