// @sovren/skyetel/testing: for tests only — a local Skyetel API stand-in server. Never imported by production code.
export * from './skyetel-stand-in.server';
