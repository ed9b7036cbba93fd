// The JSON Schema → GBNF compiler, checked with the reference GBNF matcher: every sentence drawn at random from a
// compiled grammar parses as JSON and validates against its schema (ajv), hand-picked invalid texts are refused,
// and keywords the grammar cannot enforce are refused at compile time.
import Ajv2020 from 'ajv/dist/2020';

import { GbnfMatcher } from '../testing/gbnf-matcher';
import { JsonSchemaGrammarError, jsonObjectGrammar, jsonSchemaToGrammar } from './json-schema-grammar';

/** Deterministic PRNG (mulberry32) so a failure names a reproducible case. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SCHEMAS: Array<[string, Record<string, unknown>]> = [
  [
    'weather arguments',
    {
      type: 'object',
      properties: {
        location: { type: 'string', description: 'city' },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
      },
      required: ['location', 'unit'],
      additionalProperties: false,
    },
  ],
  [
    'optional properties',
    {
      type: 'object',
      properties: { a: { type: 'integer' }, b: { type: 'boolean' }, c: { type: 'null' }, d: { type: 'number' } },
      required: ['b'],
    },
  ],
  [
    'only optional properties',
    { type: 'object', properties: { x: { type: 'string' }, y: { type: 'string' }, z: { type: 'integer' } } },
  ],
  [
    'arrays with bounds',
    {
      type: 'object',
      properties: {
        tags: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 5 }, minItems: 1, maxItems: 3 },
        matrix: { type: 'array', items: { type: 'array', items: { type: 'number' } }, maxItems: 2 },
      },
      required: ['tags', 'matrix'],
      additionalProperties: false,
    },
  ],
  [
    'anyOf, const, nullable type list',
    {
      type: 'object',
      properties: {
        kind: { const: 'event' },
        when: { anyOf: [{ type: 'string' }, { type: 'integer' }] },
        note: { type: ['string', 'null'] },
      },
      required: ['kind', 'when', 'note'],
      additionalProperties: false,
    },
  ],
  [
    'recursive $defs',
    {
      $defs: {
        node: {
          type: 'object',
          properties: {
            name: { type: 'string', maxLength: 8 },
            children: { type: 'array', items: { $ref: '#/$defs/node' }, maxItems: 2 },
          },
          required: ['name', 'children'],
          additionalProperties: false,
        },
      },
      $ref: '#/$defs/node',
    },
  ],
  [
    'allOf merge',
    {
      allOf: [
        { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] },
        { type: 'object', properties: { label: { type: 'string' } }, required: ['label'] },
      ],
    },
  ],
  ['map of integers', { type: 'object', additionalProperties: { type: 'integer' } }],
  ['tuple', { type: 'array', prefixItems: [{ type: 'string' }, { type: 'boolean' }], items: false }],
  ['top-level enum of mixed values', { enum: ['a"b', 1, null, { k: [1, 2] }, 'ünï\n'] }],
  ['any value', {}],
];

describe('jsonSchemaToGrammar', () => {
  const ajv = new Ajv2020({ strict: false });

  it.each(SCHEMAS)('every sampled sentence of "%s" parses and validates', (_name, schema) => {
    const grammar = jsonSchemaToGrammar(schema);
    const matcher = new GbnfMatcher(grammar);
    const validate = ajv.compile(schema);
    const random = rng(42);
    let produced = 0;
    for (let i = 0; i < 400 && produced < 60; i++) {
      const text = matcher.sample(random, 300, 0.5);
      if (text === undefined) continue;
      produced += 1;
      expect(matcher.accepts(text)).toBe(true);
      let value: unknown;
      expect(() => (value = JSON.parse(text))).not.toThrow();
      if (!validate(value)) throw new Error(`${text} does not validate: ${ajv.errorsText(validate.errors)}`);
    }
    expect(produced).toBeGreaterThan(20);
  });

  it('accepts pretty-printed and compact valid texts', () => {
    const m = new GbnfMatcher(jsonSchemaToGrammar(SCHEMAS[0][1]));
    expect(m.accepts('{"location": "Paris", "unit": "celsius"}')).toBe(true);
    expect(m.accepts('{"location":"Paris","unit":"fahrenheit"}')).toBe(true);
    expect(m.accepts('{\n  "location": "Pa\\"ris\\u00e9",\n  "unit": "celsius"\n}')).toBe(true);
  });

  it.each([
    ['a missing required key', '{"location": "Paris"}'],
    ['a wrong enum value', '{"location": "Paris", "unit": "kelvin"}'],
    ['an extra key', '{"location": "Paris", "unit": "celsius", "x": 1}'],
    ['a wrong type', '{"location": 3, "unit": "celsius"}'],
    ['keys out of declared order', '{"unit": "celsius", "location": "Paris"}'],
    ['trailing text', '{"location": "Paris", "unit": "celsius"} ok'],
    ['a raw newline inside a string', '{"location": "Pa\nris", "unit": "celsius"}'],
  ])('refuses %s', (_case, text) => {
    const m = new GbnfMatcher(jsonSchemaToGrammar(SCHEMAS[0][1]));
    expect(m.accepts(text)).toBe(false);
  });

  it('keeps declared order for optional keys and allows any subset', () => {
    const m = new GbnfMatcher(jsonSchemaToGrammar(SCHEMAS[2][1]));
    for (const ok of ['{}', '{"y": "b"}', '{"x": "a", "z": 1}', '{"x": "a", "y": "b", "z": -3}', '{"z": 0}']) {
      expect(m.accepts(ok)).toBe(true);
    }
    for (const bad of ['{"z": 1, "x": "a"}', '{"x": "a",}', '{, "y": "b"}', '{"z": 01}'])
      expect(m.accepts(bad)).toBe(false);
  });

  it('enforces array and string bounds', () => {
    const m = new GbnfMatcher(jsonSchemaToGrammar(SCHEMAS[3][1]));
    expect(m.accepts('{"tags": ["a", "bcdef"], "matrix": []}')).toBe(true);
    expect(m.accepts('{"tags": [], "matrix": []}')).toBe(false);
    expect(m.accepts('{"tags": ["a", "b", "c", "d"], "matrix": []}')).toBe(false);
    expect(m.accepts('{"tags": ["abcdef"], "matrix": []}')).toBe(false);
    expect(m.accepts('{"tags": [""], "matrix": []}')).toBe(false);
  });

  it('json_object mode takes any object and nothing else', () => {
    const m = new GbnfMatcher(jsonObjectGrammar());
    expect(m.accepts('{"a": [1, {"b": null}], "c": "d"}')).toBe(true);
    expect(m.accepts('[1]')).toBe(false);
    expect(m.accepts('"text"')).toBe(false);
    expect(m.acceptsPrefix('{"a": [1')).toBe(true);
  });

  it.each([
    ['pattern', { type: 'string', pattern: '^a+$' }, 'pattern'],
    ['minimum', { type: 'integer', minimum: 3 }, 'minimum'],
    ['not', { not: { type: 'string' } }, 'not'],
    ['an external $ref', { $ref: 'https://example.com/s.json' }, '$ref'],
    ['an unknown type', { type: 'decimal' }, 'unknown type'],
    ['allOf with additionalProperties', { allOf: [{ properties: { a: {} }, additionalProperties: false }] }, 'allOf'],
  ])('refuses %s with an error naming it', (_case, schema, word) => {
    expect(() => jsonSchemaToGrammar(schema)).toThrow(JsonSchemaGrammarError);
    expect(() => jsonSchemaToGrammar(schema)).toThrow(word);
  });
});
