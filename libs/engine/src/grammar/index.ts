export * from './json-schema-grammar';
