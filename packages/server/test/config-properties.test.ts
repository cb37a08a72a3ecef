import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fuzzParameters, fuzzRuns, PROTOTYPE_NAMES } from '../../../test/support/fuzz.ts';
import { ConfigError, ConfigSchema, type HeraldConfig, parseConfig } from '../src/config.ts';

/** The part of JSON Schema that `z.toJSONSchema` writes for Herald's config. */
interface JsonSchema {
  anyOf?: JsonSchema[];
  type?: 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean';
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | false;
  items?: JsonSchema;
  minItems?: number;
  required?: string[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
}

/** Hand-written rules (zod `refine`s) JSON Schema cannot state, made true of a generated section. */
const REFINEMENTS: Record<string, (section: Record<string, unknown>) => Record<string, unknown>> = {
  // Pusher apps need their credentials, at least one app, and ids and keys of their own.
  'pusher.apps[]': (app) => ({ id: 'app', key: 'key', secret: 'secret-123', ...app }),
  pusher: (pusher) => {
    const apps = (pusher.apps as Record<string, unknown>[] | undefined) ?? [];
    const listed = apps.length > 0 ? apps : [{ id: 'app', key: 'key', secret: 'secret-123' }];
    return { ...pusher, apps: listed.map((app, i) => ({ ...app, id: `app${i}`, key: `key${i}` })) };
  },
  // Pusher channels live in namespace "", which then needs presence and join/leave.
  '': (config) => {
    const namespaces = config.namespaces as Record<string, Record<string, unknown>> | undefined;
    if (config.pusher === undefined || namespaces === undefined || !Object.hasOwn(namespaces, ''))
      return config;
    return {
      ...config,
      namespaces: { ...namespaces, '': { ...namespaces[''], presence: true, joinLeave: true } },
    };
  },
  'namespaces.*': (ns) => (ns.joinLeave === true ? { ...ns, presence: true } : ns),
  authProxy: (proxy) =>
    proxy.connectUrl === undefined ? { ...proxy, connectUrl: 'https://app.example.com/auth' } : proxy,
  // A Standard Webhooks secret holds 24 to 64 bytes: keep the generated base64's characters, at 32 bytes.
  'webhooks[]': (endpoint) => ({
    ...endpoint,
    secret: `whsec_${Buffer.alloc(32, String(endpoint.secret).slice(6)).toString('base64')}`,
  }),
};

/**
 * Values the schema accepts, generated from its own ranges, so a key or range added to the schema is
 * covered without touching this test; a construct this does not know fails loudly instead of passing.
 */
function valid(schema: JsonSchema, path: string): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((option) => valid(option, path)));
  // `{}`: any JSON at all (a namespace's event schemas, which Ajv compiles when the hub starts).
  if (Object.keys(schema).length === 0) return fc.jsonValue({ maxDepth: 2 });
  const min = schema.minimum ?? -Number.MAX_SAFE_INTEGER;
  switch (schema.type) {
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return fc
        .bigInt({ min: BigInt(min), max: BigInt(schema.maximum ?? Number.MAX_SAFE_INTEGER) })
        .map(Number);
    case 'number':
      return fc.double({
        min,
        max: schema.maximum ?? Number.MAX_VALUE,
        noNaN: true,
        noDefaultInfinity: true,
      });
    case 'string':
      if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern));
      if (schema.format === 'uri') return fc.webUrl();
      if (schema.format) break;
      return fc.string({ minLength: schema.minLength ?? 0, maxLength: schema.maxLength ?? 80 });
    case 'array':
      if (schema.items)
        return fc.array(valid(schema.items, `${path}[]`), { minLength: schema.minItems ?? 0, maxLength: 4 });
      break;
    case 'object': {
      const refine = REFINEMENTS[path] ?? ((section) => section);
      if (schema.properties) {
        const fields = Object.fromEntries(
          Object.entries(schema.properties).map(([key, s]) => [key, valid(s, path ? `${path}.${key}` : key)]),
        );
        return fc.record(fields, { requiredKeys: schema.required ?? [] }).map((section) => refine(section));
      }
      if (schema.additionalProperties) {
        const values = valid(schema.additionalProperties, `${path}.*`);
        // `__proto__` is refused as a name on purpose (a record could not hold it): it is not valid.
        const key = fc.string({ maxLength: 20 }).filter((k) => k !== '__proto__');
        return fc.dictionary(key, values, { maxKeys: 4 });
      }
      break;
    }
  }
  throw new Error(`the config test cannot generate values for ${path}: ${JSON.stringify(schema)}`);
}

const schema = z.toJSONSchema(ConfigSchema, { io: 'input' }) as JsonSchema;
const validConfig = valid(schema, '') as fc.Arbitrary<Record<string, unknown>>;

/** A value of the wrong kind for most fields, or of the right kind and out of range. */
const hostile = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(-1, 1e308, 0.5, 2 ** 53, '', 'x', null, [], {}, true, ...PROTOTYPE_NAMES),
);

/**
 * The top-level key of each problem the schema finds in `input`, after checking that `error`'s message
 * names every one by its full path (`source: path: message; ...`).
 */
function namedFields(error: ConfigError, input: unknown): string[] {
  expect(error.message.startsWith('fuzz: ')).toBe(true);
  const issues = ConfigSchema.safeParse(input).error?.issues ?? [];
  // Refused before the schema runs (a namespace named __proto__): the message names the field itself.
  if (issues.length === 0) return [error.message.split(': ')[1]];
  return issues.map((issue) => {
    const path = issue.path.map(String);
    expect(error.message).toContain(`${path.join('.') || '(root)'}: `);
    return path.length === 0 ? '(root)' : path[0];
  });
}

function parseOrRefusal(input: unknown): HeraldConfig | ConfigError {
  try {
    return parseConfig(input, 'fuzz');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err;
  }
}

describe('config schema', () => {
  it('parses every config within its ranges, keeping each value given', () => {
    fc.assert(
      fc.property(validConfig, (input) => {
        const config = parseConfig(input, 'fuzz');
        for (const [key, value] of Object.entries(input)) {
          if (typeof value !== 'object' || value === null)
            expect(config[key as keyof HeraldConfig]).toBe(value);
        }
      }),
      fuzzParameters(fuzzRuns(500, 20_000)),
    );
  });

  it('answers any JSON with a config or a ConfigError naming where it is wrong, never another exception', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue({ maxDepth: 4 }),
          fc.dictionary(fc.constantFrom(...Object.keys(schema.properties!)), hostile),
        ),
        (input) => {
          const outcome = parseOrRefusal(input);
          if (!(outcome instanceof ConfigError)) return;
          const keys =
            typeof input === 'object' && input !== null && !Array.isArray(input) ? Object.keys(input) : [];
          for (const field of namedFields(outcome, input))
            expect(field === '(root)' || keys.includes(field)).toBe(true);
        },
      ),
      fuzzParameters(fuzzRuns(1_000, 50_000)),
    );
  });

  it('refuses a valid config with one field made wrong by naming that field', () => {
    fc.assert(
      fc.property(
        validConfig,
        fc.constantFrom(...Object.keys(schema.properties!)),
        hostile,
        (input, key, value) => {
          const outcome = parseOrRefusal({ ...input, [key]: value });
          if (!(outcome instanceof ConfigError)) return;
          // Only the changed field can be wrong: everything else came from the schema's ranges.
          for (const field of namedFields(outcome, { ...input, [key]: value })) expect(field).toBe(key);
        },
      ),
      fuzzParameters(fuzzRuns(1_000, 50_000)),
    );
  });

  it('refuses an unknown key at the top and in every section, naming it', () => {
    const sections = Object.entries(schema.properties!).filter(([, s]) => s.properties);
    fc.assert(
      fc.property(
        validConfig,
        fc.constantFrom('', ...sections.map(([name]) => name)),
        fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), fc.constantFrom(...PROTOTYPE_NAMES)),
        (input, section, key) => {
          const known = section === '' ? schema.properties! : schema.properties![section].properties!;
          fc.pre(!Object.hasOwn(known, key));
          const bad = section === '' ? { ...input, [key]: 1 } : { ...input, [section]: { [key]: 1 } };
          const outcome = parseOrRefusal(bad);
          expect(outcome).toBeInstanceOf(ConfigError);
          expect(namedFields(outcome as ConfigError, bad)).toContain(section || '(root)');
          expect((outcome as ConfigError).message).toContain(`"${key}"`);
        },
      ),
      fuzzParameters(fuzzRuns(500, 20_000)),
    );
  });

  it('keeps a namespace named after an Object.prototype member, or refuses it by name, never drops it', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PROTOTYPE_NAMES), validConfig, (name, input) => {
        const namespaces = JSON.parse(`{${JSON.stringify(name)}: {"publish": "nobody"}}`);
        const outcome = parseOrRefusal({ ...input, namespaces });
        if (outcome instanceof ConfigError) {
          expect(outcome.message).toContain('namespaces');
          expect(outcome.message).toContain(name);
        } else {
          expect(Object.hasOwn(outcome.namespaces, name)).toBe(true);
          expect(outcome.namespaces[name].publish).toBe('nobody');
        }
      }),
      fuzzParameters(fuzzRuns(100, 2_000)),
    );
  });
});
